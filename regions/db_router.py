"""Keeps region content in the owning region's database and control data in the default one.

Content rows are written where their ``region_code`` says. A read or bulk write of content that names no
database is refused rather than sent to the default database, because a silent default is exactly how an
EU transcript would end up on a central server. Callers use ``.using(content_alias(code))``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from regions.storage import content_alias, content_aliases, is_content_model


class ContentDatabaseNotNamed(LookupError):
    pass


def _is_content(model: type[Model]) -> bool:
    return is_content_model(model._meta.app_label, model._meta.model_name or "")


class RegionContentRouter:
    def _route_content(self, model: type[Model], hints: dict[str, Any]) -> str:
        instance = hints.get("instance")
        if instance is not None:
            if instance._state.db:
                return str(instance._state.db)
            region_code = getattr(instance, "region_code", "")
            if region_code:
                return content_alias(region_code)
        raise ContentDatabaseNotNamed(
            f"{model._meta.label} is region content: name its database with .using(content_alias(region))"
        )

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if _is_content(model):
            return self._route_content(model, hints)
        return "default"

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        if _is_content(model):
            return self._route_content(model, hints)
        return "default"

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Content refers to control rows by id only; a relation across the two would be a cross-database
        # join waiting to happen.
        if _is_content(type(obj1)) != _is_content(type(obj2)):
            return False
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        if model_name is not None and is_content_model(app_label, model_name):
            return db in content_aliases()
        if hints.get("region_content"):
            return db in content_aliases()
        return db == "default"
