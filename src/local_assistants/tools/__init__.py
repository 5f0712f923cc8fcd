"""Tools a run can use: what the model is offered each turn, and how calls are carried out."""
