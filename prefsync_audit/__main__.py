from prefsync_audit.cli import main

main()
