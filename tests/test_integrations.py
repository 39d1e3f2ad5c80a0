"""audiomix.integrations: the Hugging Face Trainer adapter, and no framework at import."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from audiomix import WaveformMixup
from audiomix.data import MixCollate


def test_import_audiomix_imports_no_framework():
    code = (
        "import sys, audiomix, audiomix.data, audiomix.integrations; "
        "print(sorted(m for m in ('transformers', 'lightning', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_read_only_numpy_clips_are_copied_without_warnings():
    clip = np.ones(50, dtype=np.float32)
    clip.flags.writeable = False
    items = [{"input_values": clip, "labels": 1}, {"input_values": clip[:30], "labels": 0}]
    with _no_warnings():
        batch = MixCollate(WaveformMixup(num_classes=2, generator=0))(items)
    assert batch["input_values"].shape == (2, 50)


class _no_warnings:
    def __enter__(self):
        import warnings

        self.catcher = warnings.catch_warnings(record=True)
        self.records = self.catcher.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self.catcher.__exit__(*exc)
        assert not self.records, [str(r.message) for r in self.records]


def test_mixup_trainer_collates_evaluation_without_mixing(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from transformers import TrainingArguments

    from audiomix.integrations.huggingface import MixupTrainer

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 3)

        def forward(self, input_values, lengths=None, labels=None):
            logits = self.linear(input_values.mean(dim=1, keepdim=True))
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
            return {"loss": loss, "logits": logits}

    rng = np.random.default_rng(0)
    items = [
        {"input_values": rng.standard_normal(40 + i).astype(np.float32), "labels": i % 3}
        for i in range(12)
    ]
    collator = MixCollate(WaveformMixup(alpha=1.0, num_classes=3, generator=0))
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=6,
        per_device_eval_batch_size=6,
        report_to="none",
        use_cpu=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    trainer = MixupTrainer(
        model=Model(), args=args, train_dataset=items, eval_dataset=items, data_collator=collator
    )
    train_batch = next(iter(trainer.get_train_dataloader()))
    eval_batch = next(iter(trainer.get_eval_dataloader()))
    test_batch = next(iter(trainer.get_test_dataloader(items)))
    assert train_batch["labels"].shape == (6, 3)  # mixed soft targets
    for batch in (eval_batch, test_batch):
        assert batch["labels"].tolist() == [i % 3 for i in range(6)]  # the dataset's labels
        assert batch["lengths"].tolist() == [40 + i for i in range(6)]
    assert trainer.data_collator is collator
    with pytest.raises(TypeError, match="`eval_data_collator` must be callable"):
        MixupTrainer(model=Model(), args=args, data_collator=collator, eval_data_collator=3)


def _trainer(tmp_path, collator, model, items, **kwargs):
    from transformers import TrainingArguments

    from audiomix.integrations.huggingface import MixupTrainer

    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=6,
        per_device_eval_batch_size=6,
        report_to="none",
        use_cpu=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    return MixupTrainer(
        model=model,
        args=args,
        train_dataset=items,
        eval_dataset=items,
        data_collator=collator,
        **kwargs,
    )


class _SpectrogramModel(torch.nn.Module):
    """Logits from (batch, n_mels, frames) log-mels pooled over the valid frames; refuses
    anything else, as a model built for the training features would fail."""

    def __init__(self, n_mels, num_classes=3):
        super().__init__()
        self.n_mels = n_mels
        self.linear = torch.nn.Linear(n_mels, num_classes)
        self.seen = []

    def forward(self, input_values, lengths=None, labels=None):
        if input_values.ndim != 3 or input_values.shape[1] != self.n_mels:
            raise ValueError(f"expected log-mels, got {tuple(input_values.shape)}")
        self.seen.append((tuple(input_values.shape), lengths.clone()))
        valid = torch.arange(input_values.shape[-1]) < lengths[:, None]
        pooled = (input_values * valid[:, None]).sum(-1) / lengths[:, None]
        logits = self.linear(pooled / 100.0)
        if labels is None:
            return {"logits": logits}
        return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}


@pytest.mark.parametrize("masking", [False, True])
def test_mixup_trainer_evaluates_through_the_training_front_end(tmp_path, masking):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    import torchaudio.transforms as T

    from audiomix import Chain, LogMelSpectrogram, SpectrogramMixup
    from audiomix.functional import pad_batch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    items = [
        {
            "input_values": 0.1 * rng.standard_normal(1200 + 150 * i).astype(np.float32),
            "labels": i % 3,
        }
        for i in range(12)
    ]
    logmel = LogMelSpectrogram(sample_rate=8000, n_fft=128, hop_length=64, n_mels=16)
    steps = [logmel, SpectrogramMixup(alpha=1.0, num_classes=3, generator=0)]
    if masking:
        steps.append(T.TimeMasking(time_mask_param=10))
    collator = MixCollate(Chain(*steps))
    model = _SpectrogramModel(16)
    labels_seen = []

    def compute_metrics(prediction):
        labels_seen.append(prediction.label_ids)
        return {
            "accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())
        }

    trainer = _trainer(tmp_path, collator, model, items, compute_metrics=compute_metrics)
    train = next(iter(trainer.get_train_dataloader()))
    evaluation = next(iter(trainer.get_eval_dataloader()))
    assert train["input_values"].shape[:2] == evaluation["input_values"].shape[:2] == (6, 16)
    assert train["labels"].shape == (6, 3)  # mixed soft targets
    clips, lengths = pad_batch([item["input_values"] for item in items[:6]])
    # Evaluation: the training front end, unmixed and unmasked, with frame lengths.
    torch.testing.assert_close(evaluation["input_values"], logmel(clips), rtol=0, atol=0)
    assert torch.equal(evaluation["lengths"], logmel.frame_lengths(lengths))
    assert evaluation["labels"].tolist() == [i % 3 for i in range(6)]

    metrics = trainer.evaluate()
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0 and np.isfinite(metrics["eval_loss"])
    np.testing.assert_array_equal(labels_seen[-1], [i % 3 for i in range(12)])
    unlabelled = [{"input_values": item["input_values"]} for item in items]
    prediction = trainer.predict(unlabelled)
    assert prediction.predictions.shape == (12, 3) and prediction.label_ids is None
    assert all(shape[1] == 16 for shape, _ in model.seen)
    assert trainer.data_collator is collator and collator.training and collator.mixer.training
