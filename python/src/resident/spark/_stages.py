"""The Spark ML transformers: pyspark wrappers over dev.resident.spark.TextGenerator and
dev.resident.spark.ImageClassifier.

Every Java Param has a Python twin of the same name and doc. The defaults have one home, the
Java side: each new wrapper copies the defaults of its freshly made Java object, so a default
changed there (or in the C++ core behind it) shows here without an edit.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Optional, TypeVar

from py4j.java_collections import JavaArray, JavaList
from py4j.java_gateway import JavaObject
from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import JavaMLReadable, JavaMLReader, JavaMLWritable
from pyspark.ml.wrapper import JavaTransformer

import resident
from resident.spark._session import JarNotOnSessionError, active_context, java_class

S = TypeVar("S", bound="ResidentStage")


def _python_value(value: Any) -> Any:
    """A Java Param value as Python: arrays and lists become lists, the rest py4j converts."""
    if isinstance(value, (JavaArray, JavaList)):
        return list(value)
    return value


def _java_map(value: Any) -> Dict[str, Any]:
    return {str(k): _python_value(v) for k, v in value.items()}


class _Reader(JavaMLReader):
    """pyspark's JavaMLReader derives the Java class from the Python module's name
    (pyspark.ml.x is org.apache.spark.ml.x); the Resident stages name theirs."""

    @classmethod
    def _java_loader_class(cls, clazz: Any) -> str:
        return clazz._java_class


class ResidentStage(JavaTransformer, JavaMLReadable, JavaMLWritable):
    """What the Resident transformers share: the Params of dev.resident.spark.ResidentStage
    (``model``, ``inputCol``, ``errorCol``, ``strategy``, ``threads``, ``memoryBudget``), the
    Java defaults, persistence that round-trips with Java, and ``lastMetrics()``.

    Making one needs an active Spark session with the Resident jar
    (:func:`resident.spark.configure`).
    """

    #: The Java class this stage wraps.
    _java_class: ClassVar[str] = ""

    # model and inputCol are declared by each stage: their docs differ.
    model: "Param[str]"
    inputCol: "Param[str]"
    errorCol: "Param[str]" = Param(
        Params._dummy(),
        "errorCol",
        "column for the row's error (null when it worked)",
        typeConverter=TypeConverters.toString,
    )
    strategy: "Param[str]" = Param(
        Params._dummy(),
        "strategy",
        "loading strategy: shared-batched, shared or per-partition",
        typeConverter=TypeConverters.toString,
    )
    threads: "Param[int]" = Param(
        Params._dummy(),
        "threads",
        "compute threads per executor; 0 = the executor's cores",
        typeConverter=TypeConverters.toInt,
    )
    memoryBudget: "Param[str]" = Param(
        Params._dummy(),
        "memoryBudget",
        "native memory per executor for models and contexts, e.g. 6g; empty ="
        " spark.executor.memoryOverhead (+ pyspark memory) where set, else the container or"
        " machine",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        self._java_obj = java_class(self._java_class)(self.uid)
        self._copy_java_defaults(self._java_obj)

    def _copy_java_defaults(self, java_obj: JavaObject) -> None:
        """Makes the Java object's defaults this wrapper's. (pyspark's
        _transfer_params_from_java copies them too, but leaves a String[] default as a py4j
        JavaArray: `stop` would read back as a proxy, not a list.)"""
        missing = [p.name for p in self.params if not java_obj.hasParam(p.name)]
        if missing:
            raise JarNotOnSessionError(
                f"this session's {self._java_class} has no Param {', '.join(missing)}: its jar"
                f" is older than this Python package (resident {resident.__version__}); put the"
                " jar resident.spark.jar_path() finds on the session, or rebuild it with"
                " scripts/build-jar.sh"
            )
        self._defaultParamMap = {}
        for param in self.params:
            java_param = java_obj.getParam(param.name)
            if java_obj.hasDefault(java_param):
                value = _python_value(java_obj.getDefault(java_param).get())
                self._setDefault(**{param.name: value})

    # --- persistence ---

    @classmethod
    def read(cls) -> JavaMLReader:
        """An MLReader of this stage, as saved by Python or by Java (``write().save``)."""
        java_class(cls._java_class)  # a clear error when the jar is missing
        return _Reader(cls)

    @classmethod
    def _from_java(cls, java_stage: JavaObject) -> Any:
        """The wrapper of a Java stage (a loaded one): its uid, defaults and set Params."""
        stage = cls()
        gateway = active_context()._gateway
        assert gateway is not None
        gateway.detach(stage._java_obj)
        stage._java_obj = java_stage
        stage._resetUid(java_stage.uid())
        stage._copy_java_defaults(java_stage)
        stage._transfer_params_from_java()
        return stage

    # --- checks and metrics ---

    def validateParams(self: S) -> S:
        """Checks every Param that needs no data by the engine's own rules, as ``transform``
        does before any work; raises pyspark's IllegalArgumentException naming the Param, its
        value and its valid range."""
        self._transfer_params_to_java()
        self._java_obj.validateParams()
        return self

    def lastMetrics(self) -> Optional[Dict[str, Any]]:
        """The metrics of this stage's last ``transform``, as its result is computed; None
        before any. ``{"total": {...}, "executors": {executor id: {...}}, "tasks": n,
        "summary": text}``, each ``{...}`` with ``model_loads``, ``load_seconds``,
        ``rows_ok``, ``rows_failed``, ``tokens_in``, ``tokens_out``, ``peak_rss_bytes``,
        ``cpu_variants`` and more (the Java ``JobMetrics.ExecutorTotals.toMap()``)."""
        metrics = self._java_obj.lastMetrics()
        if metrics is None:
            return None
        total = _java_map(metrics.total().toMap())
        executors = {
            str(executor): _java_map(totals.toMap())
            for executor, totals in metrics.perExecutor().items()
        }
        return {
            "total": total,
            "executors": executors,
            "tasks": total["tasks"],
            "summary": metrics.toString(),
        }

    # --- the shared Params ---

    def setModel(self: S, value: str) -> S:
        return self._set(model=value)

    def getModel(self) -> str:
        return self.getOrDefault(self.model)

    def setInputCol(self: S, value: str) -> S:
        return self._set(inputCol=value)

    def getInputCol(self) -> str:
        return self.getOrDefault(self.inputCol)

    def setErrorCol(self: S, value: str) -> S:
        return self._set(errorCol=value)

    def getErrorCol(self) -> str:
        return self.getOrDefault(self.errorCol)

    def setStrategy(self: S, value: str) -> S:
        return self._set(strategy=value)

    def getStrategy(self) -> str:
        return self.getOrDefault(self.strategy)

    def setThreads(self: S, value: int) -> S:
        return self._set(threads=value)

    def getThreads(self) -> int:
        return self.getOrDefault(self.threads)

    def setMemoryBudget(self: S, value: str) -> S:
        return self._set(memoryBudget=value)

    def getMemoryBudget(self) -> str:
        return self.getOrDefault(self.memoryBudget)


class TextGenerator(ResidentStage):
    """Turns a column of prompts into completions with a GGUF language model held resident in
    each executor JVM (``dev.resident.spark.TextGenerator``). Every input column and row is
    kept, in order; it adds the completion, token counts, finish reason and an error column: a
    bad row gets an error and the job goes on.

    >>> out = TextGenerator(model="smollm2-135m-instruct", maxTokens=64).transform(prompts)
    """

    _java_class = "dev.resident.spark.TextGenerator"

    model: "Param[str]" = Param(
        Params._dummy(),
        "model",
        "the model: a catalog name (pulled into each node's model cache), a path every executor"
        " can read, or the name of a file shipped with --files / addFile",
        typeConverter=TypeConverters.toString,
    )
    inputCol: "Param[str]" = Param(
        Params._dummy(),
        "inputCol",
        "column of prompts: a string, or an array of {role, content}",
        typeConverter=TypeConverters.toString,
    )
    outputCol: "Param[str]" = Param(
        Params._dummy(),
        "outputCol",
        "column for the completion (null on error)",
        typeConverter=TypeConverters.toString,
    )
    promptTokensCol: "Param[str]" = Param(
        Params._dummy(),
        "promptTokensCol",
        "column for the prompt's tokens",
        typeConverter=TypeConverters.toString,
    )
    completionTokensCol: "Param[str]" = Param(
        Params._dummy(),
        "completionTokensCol",
        "column for the completion's tokens",
        typeConverter=TypeConverters.toString,
    )
    finishReasonCol: "Param[str]" = Param(
        Params._dummy(),
        "finishReasonCol",
        "column for why generation ended: stop, length or context",
        typeConverter=TypeConverters.toString,
    )
    idCol: "Param[str]" = Param(
        Params._dummy(),
        "idCol",
        "column of row ids, which seed each row's sampler (used when the data has it; empty:"
        " none); a row without an id is seeded by its prompt, so a row's text never depends on"
        " partitioning (docs/rows.md)",
        typeConverter=TypeConverters.toString,
    )
    maxTokens: "Param[int]" = Param(
        Params._dummy(),
        "maxTokens",
        "tokens to generate at most per row",
        typeConverter=TypeConverters.toInt,
    )
    temperature: "Param[float]" = Param(
        Params._dummy(),
        "temperature",
        "sampling temperature; 0 = greedy",
        typeConverter=TypeConverters.toFloat,
    )
    topK: "Param[int]" = Param(
        Params._dummy(), "topK", "top-k sampling; 0 = off", typeConverter=TypeConverters.toInt
    )
    topP: "Param[float]" = Param(
        Params._dummy(), "topP", "top-p sampling; 1 = off", typeConverter=TypeConverters.toFloat
    )
    minP: "Param[float]" = Param(
        Params._dummy(), "minP", "min-p sampling; 0 = off", typeConverter=TypeConverters.toFloat
    )
    seed: "Param[int]" = Param(
        Params._dummy(),
        "seed",
        "base seed, mixed with each row's key",
        typeConverter=TypeConverters.toInt,
    )
    stop: "Param[List[str]]" = Param(
        Params._dummy(),
        "stop",
        "stop strings: generation ends before a match",
        typeConverter=TypeConverters.toListString,
    )
    systemPrompt: "Param[str]" = Param(
        Params._dummy(),
        "systemPrompt",
        "system message; renders the prompt as a chat",
        typeConverter=TypeConverters.toString,
    )
    promptTemplate: "Param[str]" = Param(
        Params._dummy(),
        "promptTemplate",
        "template around a string prompt, with {prompt} where the prompt goes; empty: none",
        typeConverter=TypeConverters.toString,
    )
    chat: "Param[bool]" = Param(
        Params._dummy(),
        "chat",
        "render string prompts with the model's chat template as a user message",
        typeConverter=TypeConverters.toBoolean,
    )
    parallel: "Param[int]" = Param(
        Params._dummy(),
        "parallel",
        "sequences in flight per executor (shared-batched)",
        typeConverter=TypeConverters.toInt,
    )
    ctxSize: "Param[int]" = Param(
        Params._dummy(),
        "ctxSize",
        "tokens of context per sequence",
        typeConverter=TypeConverters.toInt,
    )
    determinism: "Param[str]" = Param(
        Params._dummy(),
        "determinism",
        "invariant (default: a seeded row's text never depends on the batch, partitioning or"
        " retries) or fast (fastest kernels; the text can change with the batch)",
        typeConverter=TypeConverters.toString,
    )
    weights: "Param[str]" = Param(
        Params._dummy(),
        "weights",
        "auto, shared (mapped: one copy per node) or private (repacked: faster, a copy per"
        " executor; under determinism invariant only where the CPU has AMX)",
        typeConverter=TypeConverters.toString,
    )
    kvTokens: "Param[int]" = Param(
        Params._dummy(),
        "kvTokens",
        "KV cache cells per sequence; 0 = sized to the rows (prompt + maxTokens), grown on"
        " demand",
        typeConverter=TypeConverters.toInt,
    )
    rowTimeout: "Param[float]" = Param(
        Params._dummy(),
        "rowTimeout",
        "seconds a row may take from its submission to the engine (time queued included)"
        " before it fails with deadline_exceeded; 0 = no limit",
        typeConverter=TypeConverters.toFloat,
    )

    @keyword_only
    def __init__(
        self,
        *,
        model: Optional[str] = None,
        inputCol: Optional[str] = None,
        errorCol: Optional[str] = None,
        strategy: Optional[str] = None,
        threads: Optional[int] = None,
        memoryBudget: Optional[str] = None,
        outputCol: Optional[str] = None,
        promptTokensCol: Optional[str] = None,
        completionTokensCol: Optional[str] = None,
        finishReasonCol: Optional[str] = None,
        idCol: Optional[str] = None,
        maxTokens: Optional[int] = None,
        temperature: Optional[float] = None,
        topK: Optional[int] = None,
        topP: Optional[float] = None,
        minP: Optional[float] = None,
        seed: Optional[int] = None,
        stop: Optional[List[str]] = None,
        systemPrompt: Optional[str] = None,
        promptTemplate: Optional[str] = None,
        chat: Optional[bool] = None,
        parallel: Optional[int] = None,
        ctxSize: Optional[int] = None,
        determinism: Optional[str] = None,
        weights: Optional[str] = None,
        kvTokens: Optional[int] = None,
        rowTimeout: Optional[float] = None,
    ) -> None:
        """Params not given keep the Java defaults."""
        super().__init__()
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        model: Optional[str] = None,
        inputCol: Optional[str] = None,
        errorCol: Optional[str] = None,
        strategy: Optional[str] = None,
        threads: Optional[int] = None,
        memoryBudget: Optional[str] = None,
        outputCol: Optional[str] = None,
        promptTokensCol: Optional[str] = None,
        completionTokensCol: Optional[str] = None,
        finishReasonCol: Optional[str] = None,
        idCol: Optional[str] = None,
        maxTokens: Optional[int] = None,
        temperature: Optional[float] = None,
        topK: Optional[int] = None,
        topP: Optional[float] = None,
        minP: Optional[float] = None,
        seed: Optional[int] = None,
        stop: Optional[List[str]] = None,
        systemPrompt: Optional[str] = None,
        promptTemplate: Optional[str] = None,
        chat: Optional[bool] = None,
        parallel: Optional[int] = None,
        ctxSize: Optional[int] = None,
        determinism: Optional[str] = None,
        weights: Optional[str] = None,
        kvTokens: Optional[int] = None,
        rowTimeout: Optional[float] = None,
    ) -> "TextGenerator":
        """Sets the Params given by keyword."""
        return self._set(**self._input_kwargs)

    def setOutputCol(self, value: str) -> "TextGenerator":
        return self._set(outputCol=value)

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)

    def setPromptTokensCol(self, value: str) -> "TextGenerator":
        return self._set(promptTokensCol=value)

    def getPromptTokensCol(self) -> str:
        return self.getOrDefault(self.promptTokensCol)

    def setCompletionTokensCol(self, value: str) -> "TextGenerator":
        return self._set(completionTokensCol=value)

    def getCompletionTokensCol(self) -> str:
        return self.getOrDefault(self.completionTokensCol)

    def setFinishReasonCol(self, value: str) -> "TextGenerator":
        return self._set(finishReasonCol=value)

    def getFinishReasonCol(self) -> str:
        return self.getOrDefault(self.finishReasonCol)

    def setIdCol(self, value: str) -> "TextGenerator":
        return self._set(idCol=value)

    def getIdCol(self) -> str:
        return self.getOrDefault(self.idCol)

    def setMaxTokens(self, value: int) -> "TextGenerator":
        return self._set(maxTokens=value)

    def getMaxTokens(self) -> int:
        return self.getOrDefault(self.maxTokens)

    def setTemperature(self, value: float) -> "TextGenerator":
        return self._set(temperature=value)

    def getTemperature(self) -> float:
        return self.getOrDefault(self.temperature)

    def setTopK(self, value: int) -> "TextGenerator":
        return self._set(topK=value)

    def getTopK(self) -> int:
        return self.getOrDefault(self.topK)

    def setTopP(self, value: float) -> "TextGenerator":
        return self._set(topP=value)

    def getTopP(self) -> float:
        return self.getOrDefault(self.topP)

    def setMinP(self, value: float) -> "TextGenerator":
        return self._set(minP=value)

    def getMinP(self) -> float:
        return self.getOrDefault(self.minP)

    def setSeed(self, value: int) -> "TextGenerator":
        return self._set(seed=value)

    def getSeed(self) -> int:
        return self.getOrDefault(self.seed)

    def setStop(self, value: List[str]) -> "TextGenerator":
        return self._set(stop=value)

    def getStop(self) -> List[str]:
        return self.getOrDefault(self.stop)

    def setSystemPrompt(self, value: str) -> "TextGenerator":
        return self._set(systemPrompt=value)

    def getSystemPrompt(self) -> str:
        return self.getOrDefault(self.systemPrompt)

    def setPromptTemplate(self, value: str) -> "TextGenerator":
        return self._set(promptTemplate=value)

    def getPromptTemplate(self) -> str:
        return self.getOrDefault(self.promptTemplate)

    def setChat(self, value: bool) -> "TextGenerator":
        return self._set(chat=value)

    def getChat(self) -> bool:
        return self.getOrDefault(self.chat)

    def setParallel(self, value: int) -> "TextGenerator":
        return self._set(parallel=value)

    def getParallel(self) -> int:
        return self.getOrDefault(self.parallel)

    def setCtxSize(self, value: int) -> "TextGenerator":
        return self._set(ctxSize=value)

    def getCtxSize(self) -> int:
        return self.getOrDefault(self.ctxSize)

    def setDeterminism(self, value: str) -> "TextGenerator":
        return self._set(determinism=value)

    def getDeterminism(self) -> str:
        return self.getOrDefault(self.determinism)

    def setWeights(self, value: str) -> "TextGenerator":
        return self._set(weights=value)

    def getWeights(self) -> str:
        return self.getOrDefault(self.weights)

    def setKvTokens(self, value: int) -> "TextGenerator":
        return self._set(kvTokens=value)

    def getKvTokens(self) -> int:
        return self.getOrDefault(self.kvTokens)

    def setRowTimeout(self, value: float) -> "TextGenerator":
        return self._set(rowTimeout=value)

    def getRowTimeout(self) -> float:
        return self.getOrDefault(self.rowTimeout)


class ImageClassifier(ResidentStage):
    """Classifies a column of images with an ONNX image classifier held resident in each
    executor JVM (``dev.resident.spark.ImageClassifier``): image files (``binaryFile``'s
    ``content``, any binary column of JPEG, PNG, BMP, GIF or WebP bytes) or Spark's ``image``
    source struct. Every input column and row is kept, in order; it adds the best label, its
    score, the top classes and an error column (a row whose bytes are no image, or in another
    format, gets an error naming why).

    >>> files = spark.read.format("binaryFile").load("photos/")
    >>> out = ImageClassifier(model="efficientnet-lite0", inputCol="content").transform(files)
    """

    _java_class = "dev.resident.spark.ImageClassifier"

    model: "Param[str]" = Param(
        Params._dummy(),
        "model",
        "the image classifier: a catalog name (e.g. efficientnet-lite0, pulled into each node's"
        " model cache), an .onnx path every executor can read, or a file shipped with"
        " --files / addFile",
        typeConverter=TypeConverters.toString,
    )
    inputCol: "Param[str]" = Param(
        Params._dummy(),
        "inputCol",
        "column of images: binary image files, or the image data source's struct",
        typeConverter=TypeConverters.toString,
    )
    labelCol: "Param[str]" = Param(
        Params._dummy(),
        "labelCol",
        "column for the best class's label (null on error)",
        typeConverter=TypeConverters.toString,
    )
    scoreCol: "Param[str]" = Param(
        Params._dummy(),
        "scoreCol",
        "column for the best class's score (null on error)",
        typeConverter=TypeConverters.toString,
    )
    topKCol: "Param[str]" = Param(
        Params._dummy(),
        "topKCol",
        "column for the top classes: array of struct<label, index, score>",
        typeConverter=TypeConverters.toString,
    )
    topK: "Param[int]" = Param(
        Params._dummy(),
        "topK",
        "classes per image in the top-k column, best first",
        typeConverter=TypeConverters.toInt,
    )
    batchSize: "Param[int]" = Param(
        Params._dummy(),
        "batchSize",
        "images per inference call (shared-batched: from every task)",
        typeConverter=TypeConverters.toInt,
    )

    @keyword_only
    def __init__(
        self,
        *,
        model: Optional[str] = None,
        inputCol: Optional[str] = None,
        errorCol: Optional[str] = None,
        strategy: Optional[str] = None,
        threads: Optional[int] = None,
        memoryBudget: Optional[str] = None,
        labelCol: Optional[str] = None,
        scoreCol: Optional[str] = None,
        topKCol: Optional[str] = None,
        topK: Optional[int] = None,
        batchSize: Optional[int] = None,
    ) -> None:
        """Params not given keep the Java defaults."""
        super().__init__()
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        model: Optional[str] = None,
        inputCol: Optional[str] = None,
        errorCol: Optional[str] = None,
        strategy: Optional[str] = None,
        threads: Optional[int] = None,
        memoryBudget: Optional[str] = None,
        labelCol: Optional[str] = None,
        scoreCol: Optional[str] = None,
        topKCol: Optional[str] = None,
        topK: Optional[int] = None,
        batchSize: Optional[int] = None,
    ) -> "ImageClassifier":
        """Sets the Params given by keyword."""
        return self._set(**self._input_kwargs)

    def setLabelCol(self, value: str) -> "ImageClassifier":
        return self._set(labelCol=value)

    def getLabelCol(self) -> str:
        return self.getOrDefault(self.labelCol)

    def setScoreCol(self, value: str) -> "ImageClassifier":
        return self._set(scoreCol=value)

    def getScoreCol(self) -> str:
        return self.getOrDefault(self.scoreCol)

    def setTopKCol(self, value: str) -> "ImageClassifier":
        return self._set(topKCol=value)

    def getTopKCol(self) -> str:
        return self.getOrDefault(self.topKCol)

    def setTopK(self, value: int) -> "ImageClassifier":
        return self._set(topK=value)

    def getTopK(self) -> int:
        return self.getOrDefault(self.topK)

    def setBatchSize(self, value: int) -> "ImageClassifier":
        return self._set(batchSize=value)

    def getBatchSize(self) -> int:
        return self.getOrDefault(self.batchSize)
