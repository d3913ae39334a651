# One image recipe for every Sidecart service; pick the service with a build argument:
#   docker build --build-arg SERVICE=services.cart -t sidecart/cart:0.1.0 .
#   docker build --build-arg SERVICE=web -t sidecart/web:0.1.0 .
# The Dapr sidecar is not in the image: Kubernetes injects it (k8s/), `dapr run` starts it locally.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY services ./services
COPY web ./web
RUN python -m venv /venv && /venv/bin/pip install .

FROM python:3.11-slim
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=services.<name> or web" && false) \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin sidecart
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SIDECART_SERVICE=${SERVICE} APP_HOST=0.0.0.0
USER 10001
ENTRYPOINT ["sh", "-c", "exec python -m \"$SIDECART_SERVICE\""]
