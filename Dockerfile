# ckptbot: the Slack bot.  No TensorFlow: the bot reads model files with h5py/zipfile/parsers only.
#   docker build -t ckptbot .
#   docker run -p 3000:3000 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET ckptbot          # HTTP mode
#   docker run -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN ckptbot                             # Socket Mode
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000

WORKDIR /app
# Graphviz `dot` draws the architecture graph (report page, "Show graph" PNG).
RUN apt-get update && apt-get install -y --no-install-recommends graphviz && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
# The runtime dependencies only (no [test] extra: that is where TensorFlow lives).
RUN pip install . \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ckptbot

USER ckptbot
EXPOSE 3000
# /healthz answers in both modes (Socket Mode: 200 while the WebSocket is connected).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
CMD ["ckptbot", "serve"]
