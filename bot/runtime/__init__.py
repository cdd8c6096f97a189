"""Running the product: `make run` (`bot.runtime.launcher`) and the process supervisor.

Owns: the start of the three processes (action server, Rasa, desk), all up or all down, training the model
first when its inputs changed. May import anything below it: the Rasa extensions (endpoints, training), the
domain core and the shared kernel; the desk and the action server run as child processes, never imported.
"""
