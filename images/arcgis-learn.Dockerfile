# dlpk runner for the packages Esri's arcgis.learn writes (`model.save()`): their
# InferenceFunction imports arcgis.learn, fastai 1 and torchvision, which the pytorch image lacks.
# Built by `dlpk images build --framework arcgis-learn [--base IMAGE] [--wheelhouse DIR]`, which
# assembles the build context: requirements.txt (dlpk's dependencies pinned to the versions
# installed beside the building dlpk), dist/ (the dlpk wheel) and wheelhouse/ (optional local
# wheels). Layers go from the largest and most stable (torch, ~5 GB) to the dlpk wheel, so a
# change to dlpk rebuilds only the last one.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG DLPK_VERSION=0.0.0
ARG VARIANT=cpu
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
ARG ARCGIS_VERSION=2.4.4
ARG FASTAI_VERSION=1.0.61
LABEL org.opencontainers.image.title="dlpk-runner-arcgis-learn" \
      org.opencontainers.image.version="${DLPK_VERSION}" \
      dlpk.version="${DLPK_VERSION}" \
      dlpk.framework="arcgis-learn" \
      dlpk.framework.version="arcgis ${ARCGIS_VERSION}, fastai ${FASTAI_VERSION}, torch ${TORCH_VERSION}" \
      dlpk.variant="${VARIANT}"
# TORCH_HOME outside $HOME: containers run with HOME=/tmp (an empty tmpfs) and no network, so the
# backbone weights torchvision asks for must already lie in the image.
ENV VIRTUAL_ENV=/opt/dlpk PATH=/opt/dlpk/bin:$PATH TORCH_HOME=/opt/torch-home \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
# PyPI's torch and torchvision of one release (the CUDA build; it runs on the CPU as well):
# torchvision's compiled ops do not load beside another torch build.
RUN python3 -m venv /opt/dlpk \
 && pip install "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" \
 && rm -rf /root/.cache \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin runner
# arcgis (no compiled parts in the PyPI wheel), fastai 1, and what arcgis.learn and fastai import
# without declaring it (measured: without h5py SingleShotDetector silently disappears; fastai 1
# needs pkg_resources, which setuptools 81 removed, and spacy). mmengine pulls the GUI build
# of OpenCV, which needs X11 libraries: the headless build replaces it.
COPY requirements.txt /tmp/requirements.txt
COPY wheelhouse/ /tmp/wheelhouse/
RUN pip install --find-links /tmp/wheelhouse -r /tmp/requirements.txt \
      "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" \
      "arcgis==${ARCGIS_VERSION}" "fastai==${FASTAI_VERSION}" "setuptools<81" \
      scikit-learn mmengine einops h5py opencv-python-headless scikit-image timm spacy six \
 && headless="$(pip show opencv-python-headless | sed -n 's/^Version: //p')" \
 && pip uninstall -y opencv-python \
 && pip install --no-deps --force-reinstall "opencv-python-headless==${headless}" \
 && python -c "import cv2, fastai, arcgis" \
 && rm -rf /tmp/wheelhouse /tmp/requirements.txt /root/.cache
# The backbone weights FeatureClassifier's cnn_learner(pretrained=True) asks for, as the
# architectures' own initial weights generated here (no download): the package's .pth
# overwrites every tensor of them.
RUN python -c "import os, sys, torch, torchvision.models as tm; from pathlib import Path; \
folder = Path(sys.argv[1]); folder.mkdir(parents=True); \
names = [(n, [folder / Path(w.url).name for w in tm.get_model_weights(n)]) for n in sys.argv[2:]]; \
[(torch.save(tm.get_model(n, weights=None).state_dict(), files[0]), \
  [os.link(files[0], f) for f in files[1:]]) for n, files in names]" \
      "$TORCH_HOME/hub/checkpoints" resnet18 resnet34 resnet50 resnet101 \
 && ls -l "$TORCH_HOME/hub/checkpoints"
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
