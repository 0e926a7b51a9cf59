"""The push function: notifications to offline devices through FCM, APNs and HMS."""
