"""SDP answer munging (RFC 7587 Opus parameters)."""

from __future__ import annotations

OPUS_ANSWER_PARAMS: dict[str, str] = {"useinbandfec": "1", "usedtx": "1"}


def set_fmtp(sdp: str, payload_type: int, params: dict[str, str]) -> str:
    """Merge ``params`` into the ``a=fmtp`` line of ``payload_type`` (adding it if absent).

    aiortc answers Opus without ``useinbandfec=1``/``usedtx=1`` (design §3); without them
    browsers send no in-band FEC and no DTX, which is what we need to receive.
    """
    eol = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(eol)
    fmtp_prefix = f"a=fmtp:{payload_type} "
    rtpmap_prefix = f"a=rtpmap:{payload_type} "
    for i, line in enumerate(lines):
        if line.startswith(fmtp_prefix):
            existing: dict[str, str] = {}
            for item in line[len(fmtp_prefix) :].split(";"):
                key, _, value = item.strip().partition("=")
                if key:
                    existing[key] = value
            existing.update(params)
            lines[i] = fmtp_prefix + ";".join(f"{k}={v}" for k, v in existing.items())
            return eol.join(lines)
    for i, line in enumerate(lines):
        if line.startswith(rtpmap_prefix):
            lines.insert(i + 1, fmtp_prefix + ";".join(f"{k}={v}" for k, v in params.items()))
            return eol.join(lines)
    raise ValueError(f"payload type {payload_type} not in SDP")


def fmtp_params(sdp: str, payload_type: int) -> dict[str, str]:
    """The fmtp parameters for ``payload_type`` (empty if none)."""
    prefix = f"a=fmtp:{payload_type} "
    for line in sdp.splitlines():
        if line.startswith(prefix):
            out: dict[str, str] = {}
            for item in line[len(prefix) :].split(";"):
                key, _, value = item.strip().partition("=")
                if key:
                    out[key] = value
            return out
    return {}
