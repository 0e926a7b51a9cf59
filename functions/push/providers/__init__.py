"""Native push provider clients (FCM HTTP v1, APNs provider API, HMS Push Kit) behind one port."""
