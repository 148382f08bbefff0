"""The rest of the GB/T 28181 message set: controls, configuration, 2022 queries,
event subscriptions (Alarm, MobilePosition) and stored mobile positions."""
