"""Files in transit: safe names, content detection (documents or SBOMs), BOM reading and validation.

Shared by the sources (which classify attachments at extraction) and the sync (which uploads them),
so it sits below both: it imports neither.
"""
