"""The Resident stages under their Java package's name, for pyspark's loaders.

pyspark finds the Python class of a saved Java stage by its Java class name, with
``org.apache.spark`` replaced by ``pyspark``: a Pipeline holding
``dev.resident.spark.TextGenerator`` is loaded through ``dev.resident.spark``. This module
(``dev`` and ``dev.resident`` are namespace packages, so it claims no more of ``dev``) names
the same classes as :mod:`resident.spark`.
"""

from resident.spark import ImageClassifier, TextGenerator

__all__ = ["ImageClassifier", "TextGenerator"]
