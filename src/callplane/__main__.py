from callplane.cli import main

main()
