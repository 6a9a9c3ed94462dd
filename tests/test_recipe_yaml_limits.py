"""Issue 14.11: a recipe cannot exhaust memory or time through YAML aliases or a diamond of
``extends``; each is one line and exit 2, in well under a second."""

from __future__ import annotations

import time

from ftcore.cli import main


def _bomb(levels: int) -> str:
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_quickly(tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(9), encoding="utf-8")
    started = time.perf_counter()
    assert main(["validate", str(path)]) == 2
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "through YAML anchors and aliases" in err[0], err


def test_a_self_referencing_alias_is_refused(tmp_path, capsys):
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert "refers to itself" in capsys.readouterr().err


def test_diamond_extends_reads_each_file_once(tmp_path, capsys, tiny_model_dir):
    (tmp_path / "d0.yaml").write_text(
        f"task: classification\nmodel: {{name: '{tiny_model_dir}'}}\n"
        "data: {source: csv, options: {path: x.csv}}\n",
        encoding="utf-8",
    )
    for i in range(1, 25):  # two names per level, both reaching the level below
        for side in "ab":
            parents = f"[d{i - 1}, d{i - 1}]" if i == 1 else f"[d{i - 1}a, d{i - 1}b]"
            (tmp_path / f"d{i}{side}.yaml").write_text(f"extends: {parents}\n", encoding="utf-8")
    (tmp_path / "top.yaml").write_text("extends: [d24a, d24b]\n", encoding="utf-8")
    started = time.perf_counter()
    code = main(["validate", str(tmp_path / "top.yaml")])
    assert time.perf_counter() - started < 10
    assert code == 0, capsys.readouterr().err
