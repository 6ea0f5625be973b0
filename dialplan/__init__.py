"""Generated PBX configuration: the key layout (`keys`), the snapshot (`model`), the Asterisk and
FreeSWITCH renderers and `render.render_node` / `render.write_files`."""
