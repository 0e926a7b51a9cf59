"""The presence function: typing indicators and online/offline presence."""
