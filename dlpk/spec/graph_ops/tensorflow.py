"""TensorFlow graphs: the allow-list of ops, and the ops a GraphDef or SavedModel holds (package
docstring: the rules)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_TF_ARRAY = """
    BatchToSpace BatchToSpaceND Bitcast BroadcastArgs BroadcastGradientArgs BroadcastTo
    Bucketize Cast CheckNumerics CheckNumericsV2 Concat ConcatOffset ConcatV2 Const
    ConjugateTranspose DataFormatDimMap DataFormatVecPermute DeepCopy DepthToSpace Diag DiagPart
    DynamicPartition DynamicStitch Empty EnsureShape ExpandDims ExtractImagePatches
    ExtractVolumePatches FakeParam FakeQuantWithMinMaxArgs FakeQuantWithMinMaxVars
    FakeQuantWithMinMaxVarsPerChannel Fill Gather GatherNd GatherV2 GuaranteeConst Identity
    IdentityN InplaceAdd InplaceSub InplaceUpdate InvertPermutation LinSpace ListDiff LowerBound
    MatrixBandPart MatrixDiag MatrixDiagPart MatrixDiagPartV2 MatrixDiagPartV3 MatrixDiagV2
    MatrixDiagV3 MatrixSetDiag MatrixSetDiagV2 MatrixSetDiagV3 MirrorPad MirrorPadGrad OneHot
    OnesLike Pack Pad PadV2 ParallelConcat ParallelDynamicStitch Placeholder PlaceholderV2
    PlaceholderWithDefault PreventGradient QuantizeAndDequantize QuantizeAndDequantizeV2
    QuantizeAndDequantizeV3 QuantizeAndDequantizeV4 Range Rank Reshape Reverse ReverseSequence
    ReverseV2 Roll ScatterNd ScatterNdNonAliasingAdd Select SelectV2 Shape ShapeN Size Slice
    Snapshot SpaceToBatch SpaceToBatchND SpaceToDepth Split SplitV Squeeze StopGradient
    StridedSlice StridedSliceGrad TensorScatterAdd TensorScatterMax TensorScatterMin
    TensorScatterSub TensorScatterUpdate TensorStridedSliceUpdate Tile TileGrad Transpose Unique
    UniqueV2 UniqueWithCounts UniqueWithCountsV2 Unpack UnravelIndex UpperBound Where ZerosLike
    DenseToDenseSetOperation
"""
_TF_MATH = """
    Abs AccumulateNV2 Acos Acosh Add AddN AddV2 All Angle Any ApproximateEqual ArgMax ArgMin Asin
    Asinh Atan Atan2 Atanh BatchMatMul BatchMatMulV2 BatchMatMulV3 BesselI0 BesselI0e BesselI1
    BesselI1e Betainc Bincount BitwiseAnd BitwiseOr BitwiseXor Ceil ClipByValue Complex
    ComplexAbs Conj Cos Cosh Cross Cumprod Cumsum CumulativeLogsumexp DenseBincount Digamma Div
    DivNoNan Einsum Equal Erf Erfc Erfinv EuclideanNorm Exp Expm1 Floor FloorDiv FloorMod Greater
    GreaterEqual HistogramFixedWidth Igamma Igammac Imag Inv InvGrad Invert IsFinite IsInf IsNan
    LeftShift Less LessEqual Lgamma Log Log1p LogicalAnd LogicalNot LogicalOr MatMul Max Maximum
    Mean Min Minimum Mod Mul MulNoNan Ndtri Neg NextAfter NotEqual Polygamma PopulationCount Pow
    Prod Real RealDiv Reciprocal ReciprocalGrad RightShift Rint Round Rsqrt RsqrtGrad SegmentMax
    SegmentMean SegmentMin SegmentProd SegmentSum Sigmoid SigmoidGrad Sign Sin Sinh SparseMatMul
    SparseSegmentMean SparseSegmentMeanWithNumSegments SparseSegmentSqrtN
    SparseSegmentSqrtNWithNumSegments SparseSegmentSum SparseSegmentSumWithNumSegments Sqrt
    SqrtGrad Square SquaredDifference Sub Sum Tan Tanh TanhGrad TridiagonalMatMul
    TridiagonalSolve TruncateDiv TruncateMod UnsortedSegmentMax UnsortedSegmentMin
    UnsortedSegmentProd UnsortedSegmentSum Xdivy Xlog1py Xlogy Zeta
    BandedTriangularSolve Cholesky Eig LogMatrixDeterminant Lu MatrixDeterminant
    MatrixExponential MatrixInverse MatrixLogarithm MatrixSolve MatrixSolveLs MatrixSquareRoot
    MatrixTriangularSolve Qr SelfAdjointEigV2 Svd
    FFT FFT2D FFT3D FFTND IFFT IFFT2D IFFT3D IFFTND IRFFT IRFFT2D IRFFT3D IRFFTND RFFT RFFT2D
    RFFT3D RFFTND
"""
_TF_NN = """
    ApproxTopK AvgPool AvgPool3D BatchNormWithGlobalNormalization BiasAdd BiasAddGrad BiasAddV1
    BlockLSTM BlockLSTMV2 CTCBeamSearchDecoder CTCGreedyDecoder Conv Conv2D
    Conv2DBackpropInput Conv2DBackpropInputV2 Conv3D Conv3DBackpropInputV2 CudnnRNN
    CudnnRNNCanonicalToParams CudnnRNNCanonicalToParamsV2 CudnnRNNParamsSize
    CudnnRNNParamsToCanonical CudnnRNNParamsToCanonicalV2 CudnnRNNV2 CudnnRNNV3
    DepthwiseConv2dNative DepthwiseConv2dNativeBackpropInput Dilation2D Elu EluGrad
    FractionalAvgPool FractionalMaxPool FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3
    FusedPadConv2D FusedResizeAndPadConv2D GRUBlockCell InTopK InTopKV2 L2Loss LRN
    LSTMBlockCell LeakyRelu LeakyReluGrad LogSoftmax MaxPool MaxPool3D MaxPoolV2
    MaxPoolWithArgmax NthElement Relu Relu6 Relu6Grad ReluGrad Selu SeluGrad Softmax
    SoftmaxCrossEntropyWithLogits Softplus SoftplusGrad Softsign SoftsignGrad
    SparseSoftmaxCrossEntropyWithLogits TopK TopKV2
    _FusedBatchNormEx _FusedConv2D _FusedConv3D _FusedDepthwiseConv2dNative _FusedMatMul
"""
_TF_IMAGE = """
    AdjustContrast AdjustContrastv2 AdjustHue AdjustSaturation CombinedNonMaxSuppression
    CropAndResize DecodeAndCropJpeg DecodeBmp DecodeGif DecodeImage DecodeJpeg DecodePng
    DrawBoundingBoxes DrawBoundingBoxesV2 EncodeJpeg EncodeJpegVariableQuality EncodePng
    ExtractGlimpse ExtractGlimpseV2 ExtractJpegShape GenerateBoundingBoxProposals HSVToRGB
    ImageProjectiveTransformV2 ImageProjectiveTransformV3 NonMaxSuppression NonMaxSuppressionV2
    NonMaxSuppressionV3 NonMaxSuppressionV4 NonMaxSuppressionV5 NonMaxSuppressionWithOverlaps
    RGBToHSV ResizeArea ResizeBicubic ResizeBilinear ResizeNearestNeighbor
    SampleDistortedBoundingBox SampleDistortedBoundingBoxV2 ScaleAndTranslate
    StatelessSampleDistortedBoundingBox
"""
_TF_CONTROL = """
    Assert Case ControlTrigger Enter Exit For If LoopCond Merge NextIteration NoOp
    PartitionedCall RefEnter RefExit RefIdentity RefMerge RefNextIteration RefSelect RefSwitch
    StatefulPartitionedCall StatelessCase StatelessIf StatelessWhile Switch While
"""
# State that lives in the session's memory: variables, tables, tensor arrays, lists, stacks.
_TF_STATE = """
    Assign AssignAdd AssignAddVariableOp AssignSub AssignSubVariableOp AssignVariableOp
    DestroyResourceOp DestroyTemporaryVariable DisableCopyOnRead IsVariableInitialized
    ReadVariableOp ResourceGather ResourceGatherNd ResourceScatterAdd ResourceScatterNdUpdate
    ResourceScatterUpdate ResourceStridedSliceAssign ScatterAdd ScatterNdUpdate ScatterUpdate
    StridedSliceAssign TemporaryVariable VarHandleOp VarIsInitializedOp Variable VariableShape
    VariableV2
    HashTable HashTableV2 InitializeTable InitializeTableV2 LookupTableExportV2 LookupTableFind
    LookupTableFindV2 LookupTableImport LookupTableImportV2 LookupTableInsertV2 LookupTableSize
    LookupTableSizeV2 MutableDenseHashTableV2 MutableHashTable MutableHashTableOfTensorsV2
    MutableHashTableV2
    TensorArray TensorArrayClose TensorArrayCloseV2 TensorArrayCloseV3 TensorArrayConcat
    TensorArrayConcatV2 TensorArrayConcatV3 TensorArrayGather TensorArrayGatherV2
    TensorArrayGatherV3 TensorArrayGrad TensorArrayGradV2 TensorArrayGradV3
    TensorArrayGradWithShape TensorArrayPack TensorArrayRead TensorArrayReadV2 TensorArrayReadV3
    TensorArrayScatter TensorArrayScatterV2 TensorArrayScatterV3 TensorArraySize
    TensorArraySizeV2 TensorArraySizeV3 TensorArraySplit TensorArraySplitV2 TensorArraySplitV3
    TensorArrayUnpack TensorArrayV2 TensorArrayV3 TensorArrayWrite TensorArrayWriteV2
    TensorArrayWriteV3
    EmptyTensorList TensorListConcat TensorListConcatLists TensorListConcatV2
    TensorListElementShape TensorListFromTensor TensorListGather TensorListGetItem
    TensorListLength TensorListPopBack TensorListPushBack TensorListPushBackBatch
    TensorListReserve TensorListResize TensorListScatter TensorListScatterIntoExistingList
    TensorListScatterV2 TensorListSetItem TensorListSplit TensorListStack
    EmptyTensorMap TensorMapErase TensorMapHasKey TensorMapInsert TensorMapLookup TensorMapSize
    TensorMapStackKeys
    Stack StackClose StackCloseV2 StackPop StackPopV2 StackPush StackPushV2 StackV2
    OptionalFromValue OptionalGetValue OptionalHasValue OptionalNone
"""
_TF_RANDOM = """
    Multinomial ParameterizedTruncatedNormal RandomGamma RandomIndexShuffle RandomPoisson
    RandomPoissonV2 RandomShuffle RandomStandardNormal RandomUniform RandomUniformInt
    RngReadAndSkip RngSkip StatefulRandomBinomial StatefulStandardNormalV2
    StatefulTruncatedNormal StatefulUniform StatefulUniformFullInt StatefulUniformInt
    StatelessMultinomial StatelessParameterizedTruncatedNormal StatelessRandomBinomial
    StatelessRandomGammaV2 StatelessRandomGammaV3 StatelessRandomGetAlg
    StatelessRandomGetKeyCounter StatelessRandomGetKeyCounterAlg StatelessRandomNormal
    StatelessRandomNormalV2 StatelessRandomPoisson StatelessRandomUniform
    StatelessRandomUniformFullInt StatelessRandomUniformFullIntV2 StatelessRandomUniformInt
    StatelessRandomUniformIntV2 StatelessRandomUniformV2 StatelessShuffle
    StatelessTruncatedNormal StatelessTruncatedNormalV2 TruncatedNormal
"""
# Strings, parsing and sparse/ragged/quantized tensors, all in memory.
_TF_DATA = """
    AsString DecodeBase64 EncodeBase64 Fingerprint ReduceJoin RegexFullMatch RegexReplace
    ShardedFilename ShardedFilespec StaticRegexFullMatch StaticRegexReplace StringFormat
    StringJoin StringLength StringLower StringSplit StringSplitV2 StringStrip StringToHashBucket
    StringToHashBucketFast StringToHashBucketStrong StringToNumber StringUpper Substr
    UnicodeDecode UnicodeDecodeWithOffsets UnicodeEncode UnicodeScript UnicodeTranscode
    DecodeCSV DecodeCompressed DecodeJSONExample DecodePaddedRaw DecodeRaw ParseExample
    ParseExampleV2 ParseSequenceExample ParseSequenceExampleV2 ParseSingleExample
    ParseSingleSequenceExample ParseTensor SerializeTensor
    SparseAdd SparseConcat SparseDenseCwiseAdd SparseDenseCwiseDiv SparseDenseCwiseMul
    SparseFillEmptyRows SparseReduceMax SparseReduceSum SparseReorder SparseReshape SparseSlice
    SparseSoftmax SparseSplit SparseTensorDenseAdd SparseTensorDenseMatMul SparseToDense
    RaggedBincount RaggedFillEmptyRows RaggedGather RaggedRange RaggedTensorFromVariant
    RaggedTensorToSparse RaggedTensorToTensor RaggedTensorToVariant
    Dequantize QuantizeDownAndShrinkRange QuantizeV2 QuantizedAdd QuantizedAvgPool
    QuantizedBatchNormWithGlobalNormalization QuantizedBiasAdd QuantizedConcat QuantizedConv2D
    QuantizedConv2DAndRelu QuantizedConv2DAndReluAndRequantize QuantizedConv2DAndRequantize
    QuantizedConv2DPerChannel QuantizedConv2DWithBias QuantizedConv2DWithBiasAndRelu
    QuantizedConv2DWithBiasAndReluAndRequantize QuantizedConv2DWithBiasAndRequantize
    QuantizedConv2DWithBiasSignedSumAndReluAndRequantize QuantizedConv2DWithBiasSumAndRelu
    QuantizedConv2DWithBiasSumAndReluAndRequantize QuantizedDepthwiseConv2D
    QuantizedDepthwiseConv2DWithBias QuantizedDepthwiseConv2DWithBiasAndRelu
    QuantizedDepthwiseConv2DWithBiasAndReluAndRequantize QuantizedInstanceNorm QuantizedMatMul
    QuantizedMatMulWithBias QuantizedMatMulWithBiasAndDequantize QuantizedMatMulWithBiasAndRelu
    QuantizedMatMulWithBiasAndReluAndRequantize QuantizedMatMulWithBiasAndRequantize
    QuantizedMaxPool QuantizedMul QuantizedRelu QuantizedRelu6 QuantizedReluX QuantizedReshape
    QuantizedResizeBilinear RequantizationRange RequantizationRangePerChannel Requantize
    RequantizePerChannel UniformDequantize UniformQuantize UniformQuantizedAdd
    UniformQuantizedClipByValue UniformQuantizedConvolution UniformQuantizedConvolutionHybrid
    UniformQuantizedDot UniformQuantizedDotHybrid UniformRequantize
"""

#: Side-effect-free TensorFlow ops. Not on it, among others: ReadFile, WriteFile,
#: MatchingFiles, ImmutableConst (maps a file), Save*/Restore*/MergeV2Checkpoints (outside a
#: SavedModel's saver), PyFunc, PyFuncStateless, EagerPyFunc, every *Reader*, summary writer,
#: dataset and iterator op, Print/PrintV2 (an output stream may be a file), Debug* and Copy
#: (debug URLs), InitializeTableFromTextFile, LoadAndRemapMatrix, DecodeProtoV2 (descriptor
#: files), Send/Recv, Collective*, Rpc*, RemoteCall, queues, TPU and XLA ops, Abort.
TENSORFLOW_OPS: frozenset[str] = frozenset(
    name
    for group in (
        _TF_ARRAY,
        _TF_MATH,
        _TF_NN,
        _TF_IMAGE,
        _TF_CONTROL,
        _TF_STATE,
        _TF_RANDOM,
        _TF_DATA,
    )
    for name in group.split()
)

#: Checkpoint file ops, allowed only in a SavedModel's own saver (see saved_model_ops).
CHECKPOINT_OPS: frozenset[str] = frozenset(
    ["SaveV2", "RestoreV2", "MergeV2Checkpoints", "Save", "SaveSlices", "Restore", "RestoreSlice"]
)


def _node_name(reference: str) -> str:
    """`^name`, `name:1`, `name:output:0` -> `name`."""
    return reference.lstrip("^").split(":", 1)[0]


def _called_functions(node: Any, library: dict[str, Any]) -> Iterator[str]:
    """The library functions a node calls: as its op, or in a func / list(func) attribute."""
    if node.op in library:
        yield node.op
    for value in node.attr.values():
        if value.HasField("func") and value.func.name:
            yield value.func.name
        if value.HasField("list"):
            yield from (f.name for f in value.list.func)


def _ancestors(nodes: dict[str, Any], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r in nodes]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(_node_name(i) for i in nodes[name].input if _node_name(i) in nodes)
    return seen


def _function_closure(library: dict[str, Any], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r in library]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in library[name].node_def:
            stack.extend(f for f in _called_functions(node, library) if f in library)
    return seen


def tensorflow_graph_ops(
    graph_def: Any,
    saver_roots: Iterable[str] = (),
    main_roots: Iterable[str] = (),
    main_functions: Iterable[str] = (),
) -> list[str]:
    """Ops of a GraphDef and its function library that are not allowed, sorted.

    `saver_roots` (SavedModel only) name the saver's save and restore nodes: CHECKPOINT_OPS are
    allowed in their ancestors and the functions only those call, unless `main_roots` (nodes
    a signature or an init collection names), the other nodes or `main_functions` (functions
    the object graph restores) reach them too."""
    nodes = {n.name: n for n in graph_def.node}
    library = {f.signature.name: f for f in graph_def.library.function}
    checkpoint = _ancestors(nodes, saver_roots)
    main = _ancestors(nodes, [*(set(nodes) - checkpoint), *main_roots])
    found: set[str] = set()
    called_by_main: set[str] = set(main_functions)
    called_by_saver: set[str] = set()
    for name, node in nodes.items():
        saver_only = name not in main
        if node.op not in library and not _allowed(node.op, saver_only):
            found.add(node.op)
        (called_by_saver if saver_only else called_by_main).update(_called_functions(node, library))
    reached = _function_closure(library, called_by_main)
    saver_functions = _function_closure(library, called_by_saver) - reached
    for name, function in library.items():
        for node in function.node_def:
            if node.op not in library and not _allowed(node.op, name in saver_functions):
                found.add(node.op)
    return sorted(found)


def _allowed(op: str, checkpoint: bool) -> bool:
    return op in TENSORFLOW_OPS or (checkpoint and op in CHECKPOINT_OPS)


def saved_model_ops(saved_model: Any) -> list[str]:
    """Ops not allowed in any meta graph of a SavedModel message (saved_model_pb2)."""
    found: set[str] = set()
    for meta in saved_model.meta_graphs:
        saver = meta.saver_def if meta.HasField("saver_def") else None
        saver_roots = (
            [_node_name(saver.save_tensor_name), _node_name(saver.restore_op_name)]
            if saver is not None
            else []
        )
        main_roots = [
            _node_name(tensor.name)
            for signature in meta.signature_def.values()
            for tensor in (*signature.inputs.values(), *signature.outputs.values())
        ]
        for collection in meta.collection_def.values():
            if collection.HasField("node_list"):
                main_roots.extend(_node_name(v) for v in collection.node_list.value)
        objects = meta.object_graph_def
        main_functions = set(objects.concrete_functions)
        for node in objects.nodes:
            main_functions.update(node.function.concrete_functions)
            if node.bare_concrete_function.concrete_function_name:
                main_functions.add(node.bare_concrete_function.concrete_function_name)
        found.update(tensorflow_graph_ops(meta.graph_def, saver_roots, main_roots, main_functions))
    return sorted(found)


def read_saved_model(folder: Path) -> Any:
    """The SavedModel message TensorFlow itself would read from `folder` (.pb before .pbtxt)."""
    from tensorflow.core.protobuf import saved_model_pb2

    text_format = importlib.import_module("google.protobuf.text_format")  # a TensorFlow dependency

    proto = saved_model_pb2.SavedModel()
    if (folder / "saved_model.pb").is_file():
        proto.ParseFromString((folder / "saved_model.pb").read_bytes())
    elif (folder / "saved_model.pbtxt").is_file():
        text_format.Parse((folder / "saved_model.pbtxt").read_text(encoding="utf-8"), proto)
    return proto
