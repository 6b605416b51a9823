"""The handover archive (policy 4.4 定期归档, 7 移交质量效能部): export, verify, hand over.

``export`` writes one zip per project, streaming (bounded memory); ``verify`` checks its
manifest and the audit chain inside; ``handover`` closes a project and sends the archive to the
quality department; ``periodic`` is the scheduler hook for periodic archives.
"""
