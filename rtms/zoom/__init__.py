"""Everything Zoom-shaped: protocol types, signatures and stop policy (pure), plus clients."""
