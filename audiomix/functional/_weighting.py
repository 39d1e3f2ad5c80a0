"""A-weighting (IEC 61672-1) and the A-weighted gain of a clip, for between-class mixing."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import check_audio, check_lengths
from ._alignment import lengths_to_mask


def a_weighting(frequencies: Tensor, *, min_db: float | None = -80.0) -> Tensor:
    r"""A-weighting in dB (IEC 61672-1): about 0 dB at 1 kHz, -19.1 dB at 100 Hz.

    ``R_A(f) = f4² f⁴ / ((f² + f1²) · sqrt((f² + f2²)(f² + f3²)) · (f² + f4²))`` and
    ``A(f) = 20·log10(R_A(f)) + 2.00``, with the standard's pole frequencies
    f1 = 20.598997, f2 = 107.65265, f3 = 737.86223, f4 = 12194.217 Hz (often rounded to
    20.6, 107.7, 737.9 and 12194).

    Args:
        frequencies (Tensor): (...) frequencies in Hz, >= 0.
        min_db (float or None, optional): floor in dB (0 Hz is -inf). (Default: ``-80.0``)

    Returns:
        Tensor: (...) weights in dB, float64.
    """
    f2 = torch.as_tensor(frequencies, dtype=torch.float64).square()
    db = 20.0 * torch.log10(_a_response(f2)) + 2.0
    return db if min_db is None else db.clamp_min(min_db)


def _a_response(f2: Tensor) -> Tensor:
    c1, c2, c3, c4 = 20.598997**2, 107.65265**2, 737.86223**2, 12194.217**2
    return c4 * f2.square() / ((f2 + c1) * torch.sqrt((f2 + c2) * (f2 + c3)) * (f2 + c4))


def default_gain_n_fft(sample_rate: float) -> int:
    """Power of two nearest (in log scale) to 100 ms: 2048 at 16 kHz, 4096 at 44.1 kHz."""
    return 2 ** round(math.log2(0.1 * sample_rate))


def a_weighting_bins(sample_rate: float, n_fft: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """A-weighting of the bins of an ``n_fft``-point rfft, as linear power factors.

    ``10^(A(f) / 10)`` at ``f = k * sample_rate / n_fft`` (0 at 0 Hz): the ``weights`` of
    :func:`a_weighted_gain`.

    Args:
        sample_rate (float): in Hz.
        n_fft (int): FFT size.
        dtype (torch.dtype, optional): (Default: ``torch.float32``)

    Returns:
        Tensor: (n_fft // 2 + 1,) weights, on the CPU.
    """
    f = torch.fft.rfftfreq(n_fft, d=1.0 / sample_rate, dtype=torch.float64)
    r = _a_response(f.square()) * 10.0 ** (2.0 / 20.0)
    return r.square().to(dtype)


def _gain_db(
    x: Tensor,
    lengths: Tensor | None,
    *,
    window: Tensor,
    weights: Tensor,
    min_db: float,
) -> Tensor:
    b, t = x.shape[0], x.shape[-1]
    n_fft = window.shape[0]
    hop = n_fft // 2
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    x3 = work.reshape(b, -1, t)
    if lengths is not None:
        # Padding may hold anything: frames reaching into it must see silence.
        mask = lengths_to_mask(lengths.to(x.device), t).unsqueeze(1)
        x3 = torch.where(mask, x3, 0.0)
    if t < n_fft:
        x3 = torch.nn.functional.pad(x3, (0, n_fft - t))
    frames = x3.unfold(-1, n_fft, hop)  # (batch, channels, frames, n_fft)
    win = window.to(device=x3.device, dtype=x3.dtype)
    own = torch.full((b,), t, device=x.device) if lengths is None else lengths.to(x.device)
    # A clip shorter than n_fft is analysed in one frame of its own length: zero-padded into
    # an n_fft window it would sit on the window's low start (a 500-sample tone read 15 dB too
    # quiet at n_fft=2048). A Hann window of the clip's length, zero-padded to n_fft (so the
    # A-weights of the n_fft bins still apply), gives an equal-level clip an equal gain.
    first = _first_frame_window(own, win)  # (batch, n_fft); `win` itself for long clips
    windowed = frames * win
    windowed[:, :, 0] = frames[:, :, 0] * first.unsqueeze(1)
    spec = torch.fft.rfft(windowed, dim=-1)
    power = spec.real.square() + spec.imag.square()
    # Parseval: this normalisation makes g the frame's mean square (A-weighted), so a full
    # scale 1 kHz sine is about -3 dB whatever n_fft; the floor `min_db` is relative to it.
    energy = torch.full(
        (b, power.shape[2]),
        float(window.double().square().sum()),
        dtype=torch.float64,
        device=x.device,
    )
    energy[:, 0] = first.double().square().sum(dim=1)
    norm = (2.0 / (n_fft * energy)).to(power.dtype)
    weights = weights.to(device=power.device, dtype=power.dtype)
    g = (power * weights).sum(dim=-1).mean(dim=1) * norm  # (batch, frames)
    if lengths is not None:
        # Frame k is valid while it starts inside the clip; frame 0 always counts.
        last = torch.div((lengths.to(x.device) - n_fft).clamp_min(0), hop, rounding_mode="floor")
        k = torch.arange(g.shape[1], device=x.device)
        g = torch.where(k.unsqueeze(0) <= last.unsqueeze(1), g, 0.0)
    floor = 10.0 ** (min_db / 10.0)
    return 10.0 * torch.log10(g.amax(dim=1).clamp_min(floor))


def _first_frame_window(lengths: Tensor, window: Tensor) -> Tensor:
    """(batch, n_fft) window of each clip's first frame: ``window`` for clips of at least
    n_fft samples, else a periodic Hann window of the clip's length followed by zeros."""
    n_fft = window.shape[0]
    pos = torch.arange(n_fft, device=window.device, dtype=torch.float64)
    size = lengths.to(device=window.device, dtype=torch.float64).unsqueeze(1)
    hann = 0.5 - 0.5 * torch.cos(2.0 * math.pi * pos / size)
    # A one-sample clip is its own window (as torch.hann_window(1) is [1.]).
    hann = torch.where(size == 1, 1.0, hann)
    short = torch.where(pos < size, hann, 0.0).to(window.dtype)
    return torch.where(lengths.to(window.device).unsqueeze(1) < n_fft, short, window)


def a_weighted_gain(
    waveform: Tensor,
    *,
    sample_rate: float,
    lengths: Tensor | None = None,
    n_fft: int | None = None,
    min_db: float = -80.0,
    window: Tensor | None = None,
    weights: Tensor | None = None,
    validate: bool = True,
) -> Tensor:
    r"""Perceived loudness of each clip: the maximum A-weighted frame power, in dB.

    Frames of ``n_fft`` samples (Hann window, hop ``n_fft // 2``) are taken over each clip's
    valid samples; each frame's power spectrum is weighted by :func:`a_weighting` and summed,
    normalised to the frame's mean square (0 dB is a full-scale square wave; a full-scale sine
    at 1 kHz is about -3 dB). The gain is the loudest frame, floored at ``min_db``. A clip
    shorter than ``n_fft`` is one frame of its own length (a Hann window of that length,
    zero-padded to ``n_fft``), so equal-level clips get equal gains whatever their lengths.
    Scaling a clip by ``c`` adds ``20·log10|c|`` dB.

    Args:
        waveform (Tensor): (batch, time) or (batch, channels, time); channels are averaged in
            power.
        sample_rate (float): in Hz.
        lengths (Tensor or None, optional): (batch,) valid lengths.
        n_fft (int or None, optional): frame length. (Default: the power of two nearest
            100 ms, 2048 at 16 kHz)
        min_db (float, optional): floor for silent clips. (Default: ``-80.0``)
        window (Tensor or None, optional): (n_fft,) analysis window, e.g. a module's buffer.
            (Default: ``torch.hann_window(n_fft)``)
        weights (Tensor or None, optional): (n_fft // 2 + 1,) power weights of the bins.
            (Default: :func:`a_weighting_bins` of ``sample_rate`` and ``n_fft``)
        validate (bool, optional): check ``lengths``. (Default: ``True``)

    Returns:
        Tensor: (batch,) gains in dB.

    Example:
        >>> t = torch.arange(16000) / 16000
        >>> sine = torch.sin(2 * torch.pi * 1000 * t).unsqueeze(0)
        >>> round(float(a_weighted_gain(sine, sample_rate=16000)), 1)
        -3.0
    """
    check_audio(
        waveform,
        "waveform",
        min_ndim=2,
        max_ndim=3,
        layout="(batch, time) or (batch, channels, time)",
        check_finite=False,
    )
    if sample_rate <= 0:
        raise ValueError(f"`sample_rate` must be > 0, but got {sample_rate}.")
    if n_fft is None:
        n_fft = default_gain_n_fft(sample_rate) if window is None else window.shape[-1]
    if n_fft < 2:
        raise ValueError(f"`n_fft` must be >= 2, but got {n_fft}.")
    if validate and lengths is not None:
        check_lengths(lengths, waveform.shape[0], waveform.shape[-1])
    if window is None:
        window = torch.hann_window(n_fft, dtype=torch.float32, device=waveform.device)
    if weights is None:
        weights = a_weighting_bins(sample_rate, n_fft).to(waveform.device)
    if window.shape != (n_fft,) or weights.shape != (n_fft // 2 + 1,):
        raise ValueError(
            f"`window` must have shape (n_fft,) = ({n_fft},) and `weights` "
            f"(n_fft // 2 + 1,) = ({n_fft // 2 + 1},), but got {tuple(window.shape)} and "
            f"{tuple(weights.shape)}."
        )
    return _gain_db(waveform, lengths, window=window, weights=weights, min_db=min_db)
