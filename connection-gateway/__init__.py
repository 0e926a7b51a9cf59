"""The connection gateway: WebSocket sockets, JWT checks, forwarding, delivery."""
