"""ftcore strategy plugin: LoRA adapters through peft, for every head."""
