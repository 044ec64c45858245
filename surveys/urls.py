from django.urls import path

from . import views

app_name = "surveys"

urlpatterns = [
    path("survey/<str:token>/", views.survey_answer, name="answer"),
    path("survey/<str:token>/thanks/", views.survey_thanks, name="thanks"),
    path("surveys/recovery/", views.recovery_list, name="recovery"),
    path("surveys/recovery/<int:task_id>/", views.recovery_update, name="recovery-update"),
]
