"""The closed and open vocabularies of the .emd format (docs/esri-formats.md).

Closed sets come from the Literal types the pydantic models use (spec/names.py), so the JSON
Schema and the linter share one source; the rest is plain data.
"""

from __future__ import annotations

from typing import Final, get_args

from dlpk.spec.names import ImageSpace, ModelTypeName, WellKnownBandName

#: Every ModelType value found in Esri sources (docs/esri-formats.md#modeltype).
MODEL_TYPES: Final[tuple[str, ...]] = get_args(ModelTypeName)

#: Framework values with their ModelConfiguration names
#: (docs/esri-formats.md#framework-and-modelconfiguration). Without an
#: InferenceFunction the built-in raster functions import f"{Framework}.{ModelConfiguration}"
#: so a Framework is a module folder's name, spelt with its exact case: "Onnx" and
#: "XView" are the folders of Esri's python_raster_functions, "ONNX" is dlpk's own.
ARCGIS_LEARN_FRAMEWORK: Final = "arcgis.learn.models._inferencing"
FRAMEWORK_CONFIGURATIONS: Final[dict[str, tuple[str, ...]]] = {
    "TensorFlow": ("ObjectDetectionAPI", "DeepLab"),
    "Keras": ("MaskRCNN", "KerasClassifier"),
    "PyTorch": ("FastaiSSD", "FeatureClassifier"),
    "CNTK": ("FasterRCNN", "AzurePixelLevelLandClassification"),
    "Templates": ("ImageClassifierTemplate", "ObjectDetectorTemplate"),
    "Onnx": ("CntkLandClassification", "ObjectDetectionAPI"),
    "XView": ("ObjectDetectionAPI",),
    ARCGIS_LEARN_FRAMEWORK: (
        "_unet",
        "_psp",
        "_deeplab_infrencing",
        "_tiny_unet",
        "_road_infrencing",
        "_DynamicSSD",
        "_RetinaNet_Inference",
        "_yolov3_inference",
        "_maskrcnn_inferencing",
        "_FeatureClassifier",
        "_model_extension_inferencing",
        "_panoptic_inferencing",
        "change_detection",
        "_superres",
        "_cyclegan",
        "_pix2pix",
        "_pix2pix_hd",
        "_wnet_cgan",
        "_psetae_inferencing",
        "_hyperspectral3drcnet_inferencing",
        "_climax",
        "_image_captioner_inference",
        "_auto_ml",
        "_siammask_inferencing",
        "_LinkNet_Inference",
    ),
    # Our own runnable configurations (documented in dlpk.spec.configurations).
    "TorchScript": ("PixelClassifier", "ObjectDetector", "ObjectClassifier"),
    "ONNX": ("PixelClassifier", "ObjectDetector", "ObjectClassifier"),
    # Point-cloud models write "N/A" (docs/esri-formats.md#framework-and-modelconfiguration).
    "N/A": ("N/A",),
}
FRAMEWORKS: Final[tuple[str, ...]] = tuple(FRAMEWORK_CONFIGURATIONS)
#: Frameworks that are dlpk's own configurations, not module folders ArcGIS ships.
DLPK_FRAMEWORKS: Final[frozenset[str]] = frozenset({"TorchScript", "ONNX"})

#: ModelType expected for each known configuration
#: (docs/esri-formats.md#framework-and-modelconfiguration).
CONFIGURATION_MODEL_TYPES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("TensorFlow", "ObjectDetectionAPI"): ("ObjectDetection",),
    ("TensorFlow", "DeepLab"): ("ImageClassification",),
    ("Keras", "MaskRCNN"): ("ObjectDetection", "InstanceDetection"),
    ("Keras", "KerasClassifier"): ("ObjectClassification",),
    ("PyTorch", "FastaiSSD"): ("ObjectDetection",),
    ("PyTorch", "FeatureClassifier"): ("ObjectClassification",),
    ("CNTK", "FasterRCNN"): ("ObjectDetection",),
    ("CNTK", "AzurePixelLevelLandClassification"): ("ImageClassification",),
    ("Templates", "ImageClassifierTemplate"): ("ImageClassification",),
    ("Templates", "ObjectDetectorTemplate"): ("ObjectDetection",),
    ("Onnx", "CntkLandClassification"): ("ImageClassification",),
    ("Onnx", "ObjectDetectionAPI"): ("ObjectDetection",),
    ("XView", "ObjectDetectionAPI"): ("ObjectDetection",),
    (ARCGIS_LEARN_FRAMEWORK, "_unet"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_psp"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_deeplab_infrencing"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_tiny_unet"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_road_infrencing"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_DynamicSSD"): ("ObjectDetection",),
    (ARCGIS_LEARN_FRAMEWORK, "_RetinaNet_Inference"): ("ObjectDetection",),
    (ARCGIS_LEARN_FRAMEWORK, "_yolov3_inference"): ("ObjectDetection",),
    (ARCGIS_LEARN_FRAMEWORK, "_maskrcnn_inferencing"): ("InstanceDetection",),
    (ARCGIS_LEARN_FRAMEWORK, "_FeatureClassifier"): ("ObjectClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_model_extension_inferencing"): (
        "ObjectDetection",
        "ImageClassification",
    ),
    (ARCGIS_LEARN_FRAMEWORK, "_panoptic_inferencing"): ("PanopticSegmenter",),
    (ARCGIS_LEARN_FRAMEWORK, "change_detection"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_superres"): ("SuperResolution",),
    (ARCGIS_LEARN_FRAMEWORK, "_cyclegan"): ("CycleGAN",),
    (ARCGIS_LEARN_FRAMEWORK, "_pix2pix"): ("Pix2Pix",),
    (ARCGIS_LEARN_FRAMEWORK, "_pix2pix_hd"): ("Pix2PixHD",),
    (ARCGIS_LEARN_FRAMEWORK, "_psetae_inferencing"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_hyperspectral3drcnet_inferencing"): ("ImageClassification",),
    (ARCGIS_LEARN_FRAMEWORK, "_climax"): ("ImageClassification", "SuperResolution"),
    (ARCGIS_LEARN_FRAMEWORK, "_image_captioner_inference"): ("ImageCaptioner",),
    ("TorchScript", "PixelClassifier"): ("ImageClassification",),
    ("TorchScript", "ObjectDetector"): ("ObjectDetection",),
    ("TorchScript", "ObjectClassifier"): ("ObjectClassification",),
    ("ONNX", "PixelClassifier"): ("ImageClassification",),
    ("ONNX", "ObjectDetector"): ("ObjectDetection",),
    ("ONNX", "ObjectClassifier"): ("ObjectClassification",),
}

#: arcgis.learn's InferenceFunction file for each ModelType
#: (docs/esri-formats.md#inferencefunction).
INFERENCE_FUNCTIONS_BY_MODEL_TYPE: Final[dict[str, tuple[str, ...]]] = {
    "ObjectDetection": ("ArcGISObjectDetector.py",),
    "InstanceDetection": ("ArcGISInstanceDetector.py",),
    "PanopticSegmenter": ("ArcGISPanopticSegmenter.py",),
    "ImageClassification": (
        "ArcGISImageClassifier.py",
        "ArcGISImageTsClassifier.py",
        "ArcGISSuperResolution.py",
        "ArcGISImageTranslation.py",
    ),
    "CycleGAN": ("ArcGISImageTranslation.py",),
    "Pix2Pix": ("ArcGISImageTranslation.py",),
    "Pix2PixHD": ("ArcGISImageTranslation.py",),
    "SuperResolution": ("ArcGISSuperResolution.py",),
    "ObjectClassification": ("ArcGISObjectClassifier.py",),
    "ImageCaptioner": ("ArcGISImageCaptioner.py",),
}
ARCGIS_INFERENCE_FUNCTIONS: Final[frozenset[str]] = frozenset(
    name for names in INFERENCE_FUNCTIONS_BY_MODEL_TYPE.values() for name in names
)

#: ModelTypes whose outputs are indexed by Classes (docs/esri-formats.md#classes).
MODEL_TYPES_NEEDING_CLASSES: Final[frozenset[str]] = frozenset(
    {
        "ImageClassification",
        "ObjectDetection",
        "InstanceDetection",
        "ObjectClassification",
        "PanopticSegmenter",
    }
)
#: ModelTypes whose class values must start at 1 (0 is background;
#: docs/esri-formats.md#classes).
MODEL_TYPES_VALUES_FROM_ONE: Final[frozenset[str]] = frozenset(
    {"ObjectDetection", "InstanceDetection"}
)


#: Band names that ExtractBands may use instead of indexes
#: (docs/esri-formats.md#bands-and-normalisation).
WELL_KNOWN_BAND_NAMES: Final[tuple[str, ...]] = get_args(WellKnownBandName)
IMAGE_SPACES: Final[tuple[str, ...]] = get_args(ImageSpace)

#: Model-file extensions that are plausible for each framework.
MODEL_FILE_EXTENSIONS: Final[dict[str, tuple[str, ...]]] = {
    "TensorFlow": (".pb", ".h5", ".keras", ".tflite", ""),
    "Keras": (".h5", ".keras", ".hdf5"),
    "PyTorch": (".pth", ".pt", ".pkl", ".bin"),
    "CNTK": (".model", ".dnn"),
    "TorchScript": (".pt", ".pth", ".ts"),
    "ONNX": (".onnx",),
    "Onnx": (".onnx",),
    ARCGIS_LEARN_FRAMEWORK: (".pth", ".pt", ".onnx", ""),
}

#: Where Pro keeps the deep-learning raster functions it ships, under its [Functions] folder
#: (docs/esri-formats.md#inferencefunction); users deploy their own under [Functions]Custom\\.
PRO_DEEP_LEARNING_FOLDER: Final = "System/DeepLearning/"

#: Frameworks whose packages lint but cannot run anywhere today.
UNRUNNABLE_FRAMEWORKS: Final[dict[str, str]] = {
    "CNTK": "CNTK is no longer maintained; convert the model to ONNX to run it",
}

#: Keys arcgis.learn and Export Training Data write besides the modelled ones
#: (docs/esri-formats.md#bookkeeping-keys);
#: known, so never mistaken for misspellings of a modelled key.
KNOWN_EXTRA_KEYS: Final[frozenset[str]] = frozenset(
    {
        "ModelFormat", "InputRastersProps", "AllTilesStats", "AllTilesStats2", "CropTileMode",
        "IsMultidimensional", "DimensionValues", "Panoptic_Segmentation_Instance_Classes",
        "SingleLabelFieldFound", "NormalizationStats_b", "NormalizationStats_c", "n_channel",
        "n_intput_channel", "n_channel_rev", "n_band_a", "n_band_b", "n_band_c",
        "per_class_metrics",
        "ExpMap", "accuracy", "average_precision_score", "panoptic_quality", "precision", "recall",
        "f1", "MaskRCNNkwargs", "Grids", "Zooms", "Ratios", "SSDVersion", "backbone",
        "ModelConfigurationFile", "ModelFileConfigurationClass", "DatasetType", "Kwargs",
        "IsEdgeDetection", "DataAttributes", "TorchScript", "ONNX", "downsample_factor",
        "is_multispec", "ModelArch", "image_stats", "image_stats2", "extract_bands", "bands",
        "perceptual_loss", "label_nc", "mask_map", "norm_stats", "Class_mapping", "n_temporal",
        "mean_norm_stats", "std_norm_stats", "lead_times", "RoadOrientation",
    }
)  # fmt: skip

#: Known misspellings seen in the wild, mapped to the right key
#: (docs/esri-formats.md#common-mistakes).
CLASS_KEY_MISSPELLINGS: Final[dict[str, str]] = {
    "ClassValue": "Value",
    "ClassName": "Name",
    "Ccolor": "Color",
    "Colour": "Color",
    "ClassColor": "Color",
}
