"""Glue's grok-based log classifiers (built-in and user-defined).

A grok classifier matches each sampled line (up to 1,000) against its pattern, anchored to the
whole line. Certainty rule:

* no line to look at (empty file, only comments, binary content): None;
* fewer than 90% of the sampled lines match: None (not this format);
* every sampled line matches: 1.0 (the crawler stops here);
* otherwise the matched fraction, 0.9 <= certainty < 1.0 (a candidate if nothing is certain).

Built-in patterns: ``combined_apache`` and ``apache`` use Glue's documented ``COMBINEDAPACHELOG``
and ``COMMONAPACHELOG`` (untyped, so every column is a string, as in Glue's tables). Glue does
not publish the others; ours are in :mod:`etl.crawler.classifiers.grok`: ``LINUXKERNELLOG``
(kern.log lines from the ``kernel`` program), ``IISLOG`` (IIS W3C extended log, default fields;
``#`` directive lines are skipped), ``RUBY_LOGGER`` (Ruby's default ``Logger`` format) and
``SQUID3`` (Squid's native ``access.log``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from etl.crawler.classifiers.grok import Grok, compile_grok
from etl.crawler.model import Classification, Column
from etl.crawler.sample import SAMPLE_RECORDS, FileSample

MIN_MATCH_FRACTION = 0.9
GROK_SERDE = "com.amazonaws.glue.serde.GrokSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


@dataclass
class GrokClassifier:
    """Classifies text files whose lines match a grok pattern (Glue's GrokClassifier).

    Attributes:
        name: the classifier's name (reported as ``Classification.classifier``).
        classification: the classification string written to the table.
        grok_pattern: the grok pattern every line must match.
        custom_patterns: Glue's ``CustomPatterns`` (``NAME regex`` lines).
        comment_prefix: lines starting with it are not records and are not sampled.
    """

    name: str
    classification: str
    grok_pattern: str
    custom_patterns: str = ""
    comment_prefix: str | None = None
    grok: Grok = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compile now so a bad pattern fails at definition time, not mid-crawl.
        self.grok = compile_grok(self.grok_pattern, self.custom_patterns)

    def classify(self, sample: FileSample) -> Classification | None:
        """The classification when enough sampled lines match (see the module docstring)."""
        if sample.is_binary:
            return None
        records = [
            line for line in sample.lines(limit=sys.maxsize)
            if not (self.comment_prefix and line.startswith(self.comment_prefix))
        ]
        sampled = records[:SAMPLE_RECORDS]
        if not sampled:
            return None
        allowed_misses = len(sampled) - MIN_MATCH_FRACTION * len(sampled)
        matched = misses = 0
        for line in sampled:
            if self.grok.match(line) is not None:
                matched += 1
            else:
                misses += 1
                if misses > allowed_misses:
                    return None  # cannot reach the minimum fraction any more
        fraction = matched / len(sampled)
        if fraction < MIN_MATCH_FRACTION:
            return None
        return Classification(
            classification=self.classification,
            certainty=1.0 if matched == len(sampled) else fraction,
            columns=[Column(name, hive_type) for name, hive_type in self.grok.fields],
            parameters=self._parameters(sample),
            serde=self._serde(),
            input_format=TEXT_INPUT,
            output_format=TEXT_OUTPUT,
            record_count=None if sample.truncated else len(records),
            reason=f"{self.classification}: {matched}/{len(sampled)} sampled lines match",
            classifier=self.name,
        )

    def _parameters(self, sample: FileSample) -> dict[str, str]:
        params = {"grokPattern": self.grok_pattern, "typeOfData": "file"}
        if self.custom_patterns:
            params["grokCustomPatterns"] = self.custom_patterns
        if sample.compression:
            params["compressionType"] = sample.compression
        return params

    def _serde(self) -> dict[str, object]:
        serde_params = {"input.format": self.grok_pattern}
        if self.custom_patterns:
            serde_params["input.grokCustomPatterns"] = self.custom_patterns
        return {"SerializationLibrary": GROK_SERDE, "Parameters": serde_params}


def custom_grok_classifier(
    name: str, classification: str, grok_pattern: str, custom_patterns: str = ""
) -> GrokClassifier:
    """A user-defined grok classifier (Glue's CreateClassifier ``GrokClassifier``).

    Raises:
        ClassificationError: the pattern references unknown or recursive patterns, or uses an
            unknown type.
    """
    return GrokClassifier(name, classification, grok_pattern, custom_patterns or "")


COMBINED_APACHE = GrokClassifier("combined_apache", "combined_apache", "%{COMBINEDAPACHELOG}")
APACHE = GrokClassifier("apache", "apache", "%{COMMONAPACHELOG}")
LINUX_KERNEL = GrokClassifier("linux_kernel", "linux_kernel", "%{LINUXKERNELLOG}")
MICROSOFT_LOG = GrokClassifier("microsoft_log", "microsoft_log", "%{IISLOG}", comment_prefix="#")
RUBY_LOGGER = GrokClassifier("ruby_logger", "ruby_logger", "%{RUBY_LOGGER}")
SQUID = GrokClassifier("squid", "squid", "%{SQUID3}")
