"""ftcore-callbacks: Lightning callbacks for ftcore recipes (``callbacks:`` section)."""
