from epaxosdb.cli import main

main()
