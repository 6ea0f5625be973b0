from clusterpbx import main

main()
