"""The group function: group management (create, members, roles, mutes, transfer, dissolve)."""
