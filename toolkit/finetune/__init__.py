"""LoRA fine-tuning of the embedded base model, one adapter per task (`pitchcraft finetune`)."""
