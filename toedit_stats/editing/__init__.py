"""ToEdit: token-level editing of synthetic text (:mod:`.toedit`) and resumable jobs (:mod:`.job`)."""

from .job import EditJobResult, run_edit_job
from .toedit import STRATEGIES, DocumentAudit, EditConfig, EditedDocument, doc_rng, edit, edit_scores

__all__ = [
    "STRATEGIES",
    "DocumentAudit",
    "EditConfig",
    "EditJobResult",
    "EditedDocument",
    "doc_rng",
    "edit",
    "edit_scores",
    "run_edit_job",
]
