"""The web edge: everything that knows HTTP and is shared by the routers."""
