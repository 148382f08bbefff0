"""Media nodes: the media plane split into processes coordinated over NATS (issue 12).

``settings`` holds ``[nats]`` and ``[media_node]``; ``registry`` is the sans-IO view the
control node keeps of its media nodes (heartbeats in, up/down and placement out);
``tokens`` signs stream tokens with Ed25519 so a media node verifies them with only the
public key; ``protocol`` names the NATS subjects and message bodies.
"""
