"""Log-mel front end on torchaudio, batch-consistent."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
import torchaudio
from torch import Tensor, nn

from .._validation import check_audio
from ..functional._spectral import frame_lengths, power_to_db

# Windowed frames per chunk of clips in the CPU fast path (see LogMelSpectrogram._mel_power).
_CHUNK_BYTES = 2 << 20


def _capturing_graph() -> bool:
    """True while ``torch.compile``, ``torch.export`` (and the ONNX exporter built on it) or
    ``torch.jit.trace`` records the module rather than runs it."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing()


class LogMelSpectrogram(nn.Module):
    r"""Log-mel power spectrogram in dB, batch-consistent.

    ``torchaudio.transforms.MelSpectrogram`` followed by a dB conversion whose ``top_db`` floor
    is taken per example (per clip and channel), so a batched call equals the per-clip calls;
    torchaudio's ``AmplitudeToDB`` takes one floor over a whole 3-D batch. The arguments are
    torchaudio's; with ``mel_scale="slaney", norm="slaney"`` and ``pad_mode="reflect"`` the
    output matches ``librosa.power_to_db(librosa.feature.melspectrogram(...), top_db=...)``.

    Half-precision input is computed in float32 (the FFT needs it) and returned in its dtype.
    For the same reason, casting the module to half precision (``.half()``,
    ``.to(torch.bfloat16)``, as ``model.half()`` does) keeps its window and mel filterbank in
    float32; other casts (``.double()``) apply to them as usual.

    With ``center=True`` and ``pad_mode="reflect"`` (the default) each clip needs more than
    ``n_fft // 2`` samples (reflection cannot pad more than the clip holds); with
    ``center=False``, at least ``n_fft``. Shorter input raises a ``ValueError`` saying so; pad
    such clips, or use ``pad_mode="constant"``.

    The module is a deployable front end: it exports with ``torch.export`` (batch and time
    dynamic), to ONNX (``torch.onnx.export(..., dynamo=True)``), traces with
    ``torch.jit.trace`` (the trace runs at any batch size and length) and compiles with
    ``torch.compile`` without graph breaks. While one of them records the module, it takes
    torchaudio's arithmetic (the CPU fast path below splits the batch in Python) and skips the
    NaN/Inf scan, which needs the values on the host: a recorded graph passes NaN and Inf
    through, as torchaudio's transforms do. In eager mode the scan stays on by default.

    NumPy arrays (what ``soundfile`` and Hugging Face ``datasets`` give) are accepted as
    waveforms and read without copying where possible; the output is a tensor.

    Args:
        sample_rate (int, optional): (Default: ``16000``)
        n_fft (int, optional): (Default: ``400``)
        win_length (int or None, optional): (Default: ``n_fft``)
        hop_length (int or None, optional): (Default: ``win_length // 2``)
        f_min (float, optional): (Default: ``0.0``)
        f_max (float or None, optional): (Default: ``sample_rate / 2``)
        n_mels (int, optional): (Default: ``128``)
        window_fn (callable, optional): (Default: ``torch.hann_window``)
        center (bool, optional): (Default: ``True``)
        pad_mode (str, optional): (Default: ``"reflect"``)
        norm (str or None, optional): mel filter normalisation, ``None`` or ``"slaney"``.
            (Default: ``None``)
        mel_scale (str, optional): ``"htk"`` or ``"slaney"``. (Default: ``"htk"``)
        top_db (float or None, optional): dynamic range below each example's peak.
            (Default: ``80.0``)
        amin (float, optional): power floor before the log. (Default: ``1e-10``)
        ref (float, optional): power of 0 dB. (Default: ``1.0``)
        check_finite (bool, optional): reject NaN/Inf input. (Default: ``True``)

    Example:
        >>> logmel = LogMelSpectrogram(sample_rate=16000, n_fft=480, hop_length=160, n_mels=40)
        >>> logmel(torch.randn(8, 16000)).shape
        torch.Size([8, 40, 101])
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        n_mels: int = 128,
        window_fn: Callable[..., Tensor] = torch.hann_window,
        center: bool = True,
        pad_mode: str = "reflect",
        norm: str | None = None,
        mel_scale: str = "htk",
        top_db: float | None = 80.0,
        amin: float = 1e-10,
        ref: float = 1.0,
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        if sample_rate <= 0:
            raise ValueError(f"`sample_rate` must be > 0, but got {sample_rate}.")
        if n_fft <= 0 or n_mels <= 0:
            raise ValueError(f"`n_fft` and `n_mels` must be > 0, but got {n_fft}, {n_mels}.")
        win_length = win_length if win_length is not None else n_fft
        hop_length = hop_length if hop_length is not None else win_length // 2
        if not 0 < win_length <= n_fft:
            raise ValueError(f"`win_length` must be in [1, n_fft={n_fft}], but got {win_length}.")
        if hop_length <= 0:
            raise ValueError(f"`hop_length` must be > 0, but got {hop_length}.")
        if f_max is not None and not f_min < f_max <= sample_rate / 2:
            raise ValueError(
                f"`f_max` must be in (f_min={f_min}, sample_rate / 2 = {sample_rate / 2}], "
                f"but got {f_max}."
            )
        if top_db is not None and top_db < 0:
            raise ValueError(f"`top_db` must be >= 0 or None, but got {top_db}.")
        if amin <= 0 or ref <= 0:
            raise ValueError(f"`amin` and `ref` must be > 0, but got {amin}, {ref}.")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.center = center
        self.top_db = top_db
        self.amin = amin
        self.ref = ref
        self.check_finite = check_finite
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop_length,
            f_min=f_min,
            f_max=f_max,
            n_mels=n_mels,
            window_fn=window_fn,
            power=2.0,
            center=center,
            pad_mode=pad_mode,
            norm=norm,
            mel_scale=mel_scale,
        )

    @property
    def n_mels(self) -> int:
        return self.mel.n_mels

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        """Number of frames that cover each clip's valid samples (see
        :func:`~audiomix.functional.frame_lengths`).

        Args:
            lengths (Tensor): (batch,) valid lengths in samples.

        Returns:
            Tensor: (batch,) valid lengths in frames (at least 1).
        """
        return frame_lengths(
            lengths, n_fft=self.n_fft, hop_length=self.hop_length, center=self.center
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """
        Args:
            waveform (Tensor or numpy.ndarray): (..., time), floating point.

        Returns:
            Tensor: (..., n_mels, frames) log-mel power in dB, in the input's dtype.
        """
        if isinstance(waveform, np.ndarray):
            # Read-only arrays (Hugging Face datasets) are copied, as a tensor over them would
            # warn; so are reversed views, which a tensor cannot hold.
            if not waveform.flags.writeable or any(s < 0 for s in waveform.strides):
                waveform = waveform.copy()
            waveform = torch.from_numpy(waveform)
        capturing = _capturing_graph()
        if torch.jit.is_tracing():
            with warnings.catch_warnings():
                # A trace records the checks' comparisons of sizes as constants, and warns
                # that it does: they only raise on bad input and never shape the graph.
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                self._check_input(waveform, check_finite=False)
        else:
            self._check_input(waveform, check_finite=self.check_finite and not capturing)
        dtype = waveform.dtype
        if dtype in (torch.float16, torch.bfloat16):
            waveform = waveform.to(self.mel.mel_scale.fb.dtype)
        power = self._mel_power_graph(waveform) if capturing else self._mel_power(waveform)
        return power_to_db(power, amin=self.amin, ref=self.ref, top_db=self.top_db).to(dtype)

    def _check_input(self, waveform: Tensor, *, check_finite: bool) -> None:
        check_audio(
            waveform, "waveform", min_ndim=1, layout="(..., time)", check_finite=check_finite
        )
        dtype, work = waveform.dtype, self.mel.mel_scale.fb.dtype
        if dtype not in (torch.float16, torch.bfloat16) and dtype != work:
            raise TypeError(
                f"`waveform` is {dtype} but the transform computes in {work}; convert one of "
                f"them, e.g. `logmel.to({dtype})`."
            )
        self._check_length(waveform.shape[-1])

    def _check_length(self, num_samples: int) -> None:
        """Rejects clips too short to frame, before ``torch.stft`` fails on its padding."""
        if not self.center:
            if num_samples < self.n_fft:
                raise ValueError(
                    f"`waveform` has {num_samples} samples, fewer than n_fft={self.n_fft} "
                    "(with center=False). Pad the clips to at least n_fft samples, or use "
                    "center=True."
                )
            return
        pad_mode = self.mel.spectrogram.pad_mode
        # torch.stft pads n_fft // 2 on each side: a reflection needs more samples than that, a
        # circular wrap at least as many; "constant" and "replicate" pad any clip.
        minimum = {"reflect": self.n_fft // 2 + 1, "circular": self.n_fft // 2}.get(pad_mode, 1)
        if num_samples < minimum:
            raise ValueError(
                f"`waveform` has {num_samples} samples, too few for center=True with "
                f"pad_mode={pad_mode!r} and n_fft={self.n_fft}, which needs at least "
                f"{minimum}: pad the clips to at least {minimum} samples, or use "
                "pad_mode='constant'."
            )

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> LogMelSpectrogram:
        # The FFT has no half-precision CPU kernel and a half filterbank would lose precision:
        # a cast to float16/bfloat16 (`model.half()`) leaves the window and filterbank in
        # float32, moved to the new device; forward then computes half input in float32.
        owners = [(self.mel.spectrogram, "window"), (self.mel.mel_scale, "fb")]
        before = [getattr(m, name) for m, name in owners]
        super()._apply(fn, recurse)
        for (module, name), old in zip(owners, before, strict=True):
            new = getattr(module, name)
            if new.dtype in (torch.float16, torch.bfloat16) and old.dtype not in (
                torch.float16,
                torch.bfloat16,
            ):
                module._buffers[name] = old.to(device=new.device)
        return self

    def _mel_power(self, waveform: Tensor) -> Tensor:
        """``self.mel(waveform)``: the same values, computed faster on CPU.

        Two changes, neither of which alters a bit of the result:

        - Clips go through in chunks of about ``_CHUNK_BYTES`` of windowed frames, so that
          ``torch.stft``'s frame buffer and complex output stay in cache and come from memory
          the allocator already holds; one call on a whole batch of 256 clips builds ~50 MB of
          frames and page-faults it in. Every clip's STFT and mel projection are independent of
          the others (checked bit for bit against the unchunked call).
        - torchaudio takes ``stft.abs().pow(2)`` on the interleaved complex STFT. Splitting
          real and imaginary parts into two contiguous planes first lets ``hypot`` run in the
          vector kernel that complex ``abs`` uses itself (equal bit for bit on 96 M random
          values and on every STFT we compared), in (frames, freq) order, which is what the mel
          matmul reads.

        GPUs (where chunks would only add kernel launches), float64 and autograd keep
        torchaudio's own path.
        """
        if (
            waveform.device.type != "cpu"
            or waveform.dtype != torch.float32
            or (torch.is_grad_enabled() and waveform.requires_grad)
        ):
            return self.mel(waveform)
        shape = waveform.size()
        flat = waveform.reshape(-1, shape[-1])
        spec = self.mel.spectrogram
        frames = (
            shape[-1] // spec.hop_length
            if self.center
            else (shape[-1] - spec.n_fft) // spec.hop_length
        ) + 1
        rows = max(1, _CHUNK_BYTES // max(1, frames * spec.n_fft * flat.element_size()))
        parts = [self._mel_power_rows(chunk) for chunk in flat.split(rows)]
        power = parts[0] if len(parts) == 1 else torch.cat(parts)  # (n, frames, n_mels)
        return power.reshape(shape[:-1] + power.shape[-2:]).transpose(-1, -2)

    def _mel_power_graph(self, waveform: Tensor) -> Tensor:
        """``self.mel(waveform)`` in ops that every graph capture records as one graph.

        torchaudio's ``Spectrogram`` asks ``torch.jit.isinstance`` about its arguments, which
        ``torch.compile`` cannot trace (a graph break); the fast path splits the batch in
        Python (a trace would keep its batch size). This is torchaudio's arithmetic on the whole
        batch: ``|stft|^2``, then the mel matmul.
        """
        shape = waveform.shape
        stft = self._stft(waveform.reshape(-1, shape[-1]))
        power = stft.abs().pow(2.0)
        mel = torch.matmul(power.transpose(-1, -2), self.mel.mel_scale.fb).transpose(-1, -2)
        return mel.reshape(shape[:-1] + mel.shape[-2:])

    def _stft(self, flat: Tensor) -> Tensor:
        """(n, time) -> (n, freq, frames) complex STFT with torchaudio's settings."""
        spec = self.mel.spectrogram
        return torch.stft(
            flat,
            n_fft=spec.n_fft,
            hop_length=spec.hop_length,
            win_length=spec.win_length,
            window=spec.window,
            center=spec.center,
            pad_mode=spec.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True,
        )

    def _mel_power_rows(self, flat: Tensor) -> Tensor:
        """(n, time) float32 -> (n, frames, n_mels) mel power, torchaudio's arithmetic."""
        stft = self._stft(flat)
        planes = torch.view_as_real(stft).permute(3, 0, 2, 1).contiguous()  # (2, n, frames, freq)
        power = torch.hypot(planes[0], planes[1]).square_()
        # MelScale.forward: (..., time, freq) @ (freq, n_mels), before its final transpose.
        return torch.matmul(power, self.mel.mel_scale.fb)
