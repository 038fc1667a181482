"""One module per resource family; each exposes ``router`` (a FastAPI APIRouter)."""
