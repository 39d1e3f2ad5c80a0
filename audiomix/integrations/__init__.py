"""Adapters for training frameworks. Each submodule imports its framework when it is imported
itself, never at ``import audiomix``: ``from audiomix.integrations.huggingface import
MixupTrainer``. PyTorch Lightning needs none (see the README)."""
