"""OpenRLHF 0.11.x adapter: the only part of laser_plugin that imports openrlhf."""
