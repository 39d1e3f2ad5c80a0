"""The benchmark's cases, one module per section; shared sizes and settings live here."""

SAMPLE_RATE = 16000
NUM_CLASSES = 12
ALPHA = 0.2
#: The recipe's front end: 30 ms windows, 10 ms hop, 40 mel bands from 20 Hz.
LOGMEL = dict(n_fft=480, win_length=480, hop_length=160, n_mels=40, f_min=20.0, top_db=80.0)
