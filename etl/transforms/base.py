"""The Transform base class and the name -> transform registry config-driven jobs use."""

from __future__ import annotations

from typing import Any, ClassVar

from etl.errors import TransformError

_REGISTRY: dict[str, type[Transform]] = {}


class Transform:
    """Base of Glue-style transforms: ``SomeTransform.apply(frame=..., ...)``.

    Subclasses implement :meth:`__call__`; they register themselves under their class name.
    """

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__name__
        _REGISTRY[cls.__name__] = cls

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        return cls()(*args, **kwargs)

    @classmethod
    def describe(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def get_transform(name: str) -> type[Transform]:
    """Look a transform up by its Glue name, e.g. ``"ApplyMapping"`` or ``"FindMatches"``."""
    import etl.findmatches.transforms  # noqa: F401 - registers Glue's ML transforms (awsglueml)
    import etl.transforms  # noqa: F401 - registers the bundled transforms

    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise TransformError(f"unknown transform {name!r}; known transforms: {known}") from None


def registered_transforms() -> dict[str, type[Transform]]:
    import etl.findmatches.transforms  # noqa: F401
    import etl.transforms  # noqa: F401

    return dict(_REGISTRY)
