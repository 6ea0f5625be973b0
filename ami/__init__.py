"""The Asterisk adapter: ``control.port.PbxPort`` over AMI (``adapter.AsteriskAdapter``), its connection
manager, the pure AMI-event translation and the panoramisk fixes it relies on."""
