"""Social-video access (社会资源接入): RTSP/ONVIF cameras pulled and served as GB channels."""
