"""Ensemble members behind one protocol (`base.Member`): one module per kind, and one registry
that says which kind a folder or an ensemble.json entry holds."""

from .base import MEMBER_FILE, Member, MemberInfo, predict_in_length_order
from .registry import (
    CHAR_NGRAM,
    KINDS,
    TRANSFORMER,
    claim_folder,
    entry_kind,
    folder_info,
    folder_kind,
    load_members,
    member_class,
)

__all__ = [
    "CHAR_NGRAM",
    "KINDS",
    "MEMBER_FILE",
    "TRANSFORMER",
    "claim_folder",
    "Member",
    "MemberInfo",
    "entry_kind",
    "folder_info",
    "folder_kind",
    "load_members",
    "member_class",
    "predict_in_length_order",
]
