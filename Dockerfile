# voiceroom server image: docs/deploy.md ("Docker"). Multi-stage: wheels are built with a
# compiler (webrtcvad has no wheel), the runtime stage has none and runs as a non-root user.
#   docker build -t voiceroom .
#   docker run --network host -e VOICEROOM_SECRET=... -e VOICEROOM_MEDIA_PUBLIC_IP=203.0.113.7 voiceroom
ARG PYTHON=3.11

FROM python:${PYTHON}-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libopus-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY voiceroom ./voiceroom
COPY clients/web ./clients/web
# voiceroom's wheel (web client inside, see setup.py) and every dependency as wheels.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:${PYTHON}-slim-bookworm
# libopus0: opuslib loads it at run time. Nothing else: no compiler, no shell tools needed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 --shell /usr/sbin/nologin voiceroom \
 && install -d -o voiceroom -g voiceroom /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels voiceroom && rm -rf /wheels
COPY deploy/healthcheck.py /usr/local/bin/voiceroom-healthcheck
USER voiceroom
WORKDIR /home/voiceroom
# Listen on every interface inside the container; media in a fixed UDP range to publish.
ENV VOICEROOM_HOST=0.0.0.0 \
    VOICEROOM_PORT=8765 \
    VOICEROOM_MEDIA_PORT_MIN=40000 \
    VOICEROOM_MEDIA_PORT_MAX=40199 \
    VOICEROOM_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
# The store (SQLite by default): rooms and their journal survive a new container.
VOLUME ["/data"]
EXPOSE 8765/tcp 40000-40199/udp
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "/usr/local/bin/voiceroom-healthcheck"]
# SIGTERM (docker stop): clients get close code 1012 and resume after a restart.
STOPSIGNAL SIGTERM
ENTRYPOINT ["voiceroom"]
CMD ["serve"]
