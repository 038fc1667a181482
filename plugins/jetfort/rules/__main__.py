"""``python -m jetfort.rules``: write the tenant rules' JSON schema (after changing the models)."""

from jetfort.rules.schema import write_json_schema

if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_json_schema())
