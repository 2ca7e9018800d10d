# The openTelecom application image: API, pages and background loops (`serve`), or a worker.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/opentelecom
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY app ./app
COPY billing ./billing
COPY provisioning ./provisioning
COPY network ./network
COPY voip ./voip
COPY migrations ./migrations
RUN pip install --no-cache-dir --no-deps . && useradd --system --home /srv/opentelecom opentelecom
USER opentelecom
ENV OPENTELECOM_ENVIRONMENT=production
EXPOSE 8000
CMD ["opentelecom", "serve", "--host", "0.0.0.0", "--port", "8000"]
