"""Recording: device recordings (RecordInfo, downloads) and platform recording (segments)."""
