from django.urls import path

from fengqiao.portal.views import account, home, public, report, track

app_name = "portal"
urlpatterns = [
    path("", home.home, name="home"),
    path("report/", report.report, name="report"),
    path("report/done/<str:code>/", report.report_done, name="report_done"),
    path("track/", track.track, name="track"),
    path("track/<str:code>/", track.track_case, name="track_case"),
    path("track/<str:code>/rate/", track.rate, name="rate"),
    path("cases/", public.public_cases, name="public_cases"),
    path("cases/map.json", public.map_data, name="map_data"),
    path("cases/<str:number>/", public.public_case, name="public_case"),
    path("subscribe/", public.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", public.subscription_confirm_view, name="subscription_confirm"),
    path("subscribe/cancel/<str:token>/", public.subscription_cancel_view, name="subscription_cancel"),
    path("account/", account.account, name="account"),
    path("account/register/", account.register, name="register"),
    path("account/login/", account.LoginView.as_view(), name="login"),
    path("account/my/", track.my_requests, name="my_requests"),
]
