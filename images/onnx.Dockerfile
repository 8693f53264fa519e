# dlpk runner for ONNX packages; also the default image for jobs without a model (chip export).
# Built by `dlpk images build --framework onnx [--gpu] [--base IMAGE] [--wheelhouse DIR]`,
# which assembles the build context: requirements.txt (dlpk's dependencies pinned to the
# versions installed beside the building dlpk, so containers compute what the host computes),
# dist/ (the dlpk wheel) and wheelhouse/ (optional local wheels, e.g.
# onnxruntime, so the image builds with only a package index).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG DLPK_VERSION=0.0.0
ARG VARIANT=cpu
ARG ONNXRUNTIME_VERSION=1.32.0
LABEL org.opencontainers.image.title="dlpk-runner-onnx" \
      org.opencontainers.image.version="${DLPK_VERSION}" \
      dlpk.version="${DLPK_VERSION}" \
      dlpk.framework="onnx" \
      dlpk.framework.version="onnxruntime ${ONNXRUNTIME_VERSION}" \
      dlpk.variant="${VARIANT}"
ENV VIRTUAL_ENV=/opt/dlpk PATH=/opt/dlpk/bin:$PATH \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
COPY requirements.txt /tmp/requirements.txt
COPY wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/dlpk \
 && if [ "$VARIANT" = gpu ]; then spec="onnxruntime-gpu==${ONNXRUNTIME_VERSION}"; else spec="onnxruntime==${ONNXRUNTIME_VERSION}"; fi \
 && pip install --find-links /tmp/wheelhouse "$spec" onnx -r /tmp/requirements.txt \
 && rm -rf /tmp/wheelhouse /tmp/requirements.txt /root/.cache \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin runner
# Ray, so that a Ray cluster (KubeRay's pods: docs/cluster.md) can run on this image; its own
# layer, so a new Ray version leaves the framework's layer cached. `ray[default]` brings the
# dashboard agent that KubeRay's probes ask.
ARG RAY_VERSION=2.60.0
RUN pip install "ray[default]==${RAY_VERSION}" && rm -rf /root/.cache
# The package itself last, so a code change rebuilds only this layer; the label records which
# sources it was built from (declared here: a changed build argument would void the cache above).
ARG SOURCE_DIGEST=unknown
LABEL dlpk.source="${SOURCE_DIGEST}"
COPY dist/ /tmp/dist/
RUN pip install --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist /root/.cache
USER 10001
WORKDIR /job
ENTRYPOINT ["python", "-m", "dlpk.runners"]
CMD ["/job"]
