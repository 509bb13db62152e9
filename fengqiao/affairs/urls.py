app_name = "affairs"
urlpatterns: list = []
