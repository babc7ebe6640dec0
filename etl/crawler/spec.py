"""Crawler specs, mirroring Glue's CreateCrawler and CreateClassifier inputs.

Keys may be written as Glue spells them (``DatabaseName``, ``Targets: {S3Targets: ...}``) or in
snake_case. See ``conf/crawlers/`` for examples.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from etl.config import GlueModel
from etl.crawler.classifiers.base import Classifier


class S3Target(GlueModel):
    path: str
    exclusions: list[str] = Field(default_factory=list)


class Targets(GlueModel):
    s3_targets: list[S3Target] = Field(alias="S3Targets", min_length=1)


class SchemaChangePolicy(GlueModel):
    update_behavior: Literal["UPDATE_IN_DATABASE", "LOG"] = "UPDATE_IN_DATABASE"
    delete_behavior: Literal["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"] = "DEPRECATE_IN_DATABASE"


class RecrawlPolicy(GlueModel):
    recrawl_behavior: Literal["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"] = "CRAWL_EVERYTHING"


class Grouping(GlueModel):
    table_grouping_policy: Literal["CombineCompatibleSchemas"] | None = None
    table_level_configuration: int | None = Field(default=None, ge=1)


class Configuration(GlueModel):
    version: float = 1.0
    grouping: Grouping = Field(default_factory=Grouping)


class GrokClassifierSpec(GlueModel):
    name: str
    classification: str
    grok_pattern: str
    custom_patterns: str = ""


class XMLClassifierSpec(GlueModel):
    name: str
    classification: str = "xml"
    row_tag: str


class JsonClassifierSpec(GlueModel):
    name: str
    json_path: str


class CsvClassifierSpec(GlueModel):
    name: str
    delimiter: str | None = None
    quote_symbol: str | None = None
    contains_header: Literal["UNKNOWN", "PRESENT", "ABSENT"] = "UNKNOWN"
    header: list[str] = Field(default_factory=list)
    disable_value_trimming: bool = False
    allow_single_column: bool = False
    custom_datatypes: list[str] = Field(default_factory=list)


class CustomClassifier(GlueModel):
    """One of Glue's CreateClassifier inputs (exactly one kind set)."""

    grok_classifier: GrokClassifierSpec | None = None
    xml_classifier: XMLClassifierSpec | None = Field(default=None, alias="XMLClassifier")
    json_classifier: JsonClassifierSpec | None = None
    csv_classifier: CsvClassifierSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CustomClassifier:
        kinds = [k for k in ("grok_classifier", "xml_classifier", "json_classifier", "csv_classifier")
                 if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("set exactly one of GrokClassifier, XMLClassifier, JsonClassifier, CsvClassifier")
        return self

    @property
    def spec(self) -> GrokClassifierSpec | XMLClassifierSpec | JsonClassifierSpec | CsvClassifierSpec:
        return next(s for s in (self.grok_classifier, self.xml_classifier, self.json_classifier,
                                self.csv_classifier) if s is not None)

    def build(self) -> Classifier:
        spec = self.spec
        if isinstance(spec, GrokClassifierSpec):
            from etl.crawler.classifiers.logs import custom_grok_classifier

            return custom_grok_classifier(spec.name, spec.classification, spec.grok_pattern, spec.custom_patterns)
        if isinstance(spec, XMLClassifierSpec):
            from etl.crawler.classifiers.xml_ import custom_xml_classifier

            return custom_xml_classifier(spec.name, spec.row_tag)
        if isinstance(spec, JsonClassifierSpec):
            from etl.crawler.classifiers.json_ import custom_json_classifier

            return custom_json_classifier(spec.name, spec.json_path)
        from etl.crawler.classifiers.csv_ import CsvClassifier

        return CsvClassifier(
            name=spec.name, delimiter=spec.delimiter, quote_symbol=spec.quote_symbol,
            contains_header=spec.contains_header, header=spec.header,
            disable_value_trimming=spec.disable_value_trimming,
            allow_single_column=spec.allow_single_column, custom_datatypes=spec.custom_datatypes,
        )


class CrawlerSpec(GlueModel):
    """A crawler: where to look, what to call the tables, and what to do on change."""

    name: str
    database_name: str
    role: str | None = None  # accepted for compatibility with Glue definitions; unused locally
    description: str = ""
    targets: Targets
    classifiers: list[str] = Field(default_factory=list)
    custom_classifiers: list[CustomClassifier] = Field(default_factory=list)
    table_prefix: str = ""
    schema_change_policy: SchemaChangePolicy = Field(default_factory=SchemaChangePolicy)
    recrawl_policy: RecrawlPolicy = Field(default_factory=RecrawlPolicy)
    schedule: str | None = None
    configuration: Configuration = Field(default_factory=Configuration)
    sample_size: int | None = Field(default=None, ge=1, le=249)

    @field_validator("configuration", mode="before")
    @classmethod
    def _configuration_json(cls, value: Any) -> Any:
        """Glue passes Configuration as a JSON string; a mapping is accepted too."""
        if isinstance(value, str):
            return json.loads(value)
        return value

    @model_validator(mode="after")
    def _classifiers_defined(self) -> CrawlerSpec:
        defined = {c.spec.name for c in self.custom_classifiers}
        missing = [n for n in self.classifiers if n not in defined]
        if missing:
            raise ValueError(f"classifiers {missing} are not defined under CustomClassifiers")
        if (self.recrawl_policy.recrawl_behavior == "CRAWL_NEW_FOLDERS_ONLY"
                and self.schema_change_policy.update_behavior != "LOG"):
            # Glue requires it: a crawl of new folders only cannot judge the whole table's schema.
            raise ValueError("RecrawlBehavior CRAWL_NEW_FOLDERS_ONLY needs SchemaChangePolicy.UpdateBehavior LOG")
        return self

    def custom(self) -> list[Classifier]:
        """The custom classifiers, in the order the spec lists them."""
        by_name = {c.spec.name: c for c in self.custom_classifiers}
        return [by_name[n].build() for n in self.classifiers]
